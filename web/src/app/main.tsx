import { render } from "preact";
import { ParleyClient } from "../sdk";
import { App } from "./App";
import { agentSummary } from "./format";
import "./styles.css";

const client = new ParleyClient({
  baseUrl: location.origin,
  storage: localStorage,
  deviceName: agentSummary(navigator.userAgent) || "Browser",
});

// The network came back: skip the backoff wait.
addEventListener("online", () => client.reconnectNow());
// Another tab signed out: so does this one.
addEventListener("storage", () => client.checkStoredSession());

client.start();
render(<App client={client} />, document.getElementById("app")!);
