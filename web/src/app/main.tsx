import { render } from "preact";
import { ParleyClient } from "../sdk";
import { App } from "./App";
import "./styles.css";

const client = new ParleyClient({
  baseUrl: location.origin,
  storage: localStorage,
  deviceName: deviceName(),
});

// The network came back: skip the backoff wait.
addEventListener("online", () => client.reconnectNow());
// Another tab signed out: so does this one.
addEventListener("storage", () => client.checkStoredSession());

client.start();
render(<App client={client} />, document.getElementById("app")!);

function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return `${browser}${os ? ` on ${os}` : ""}`;
}
