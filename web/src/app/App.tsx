import type { ParleyClient } from "../sdk";
import { AuthScreen } from "./AuthScreen";
import { ChatScreen } from "./ChatScreen";
import { useClient } from "./useClient";

export function App({ client }: { client: ParleyClient }) {
  useClient(client);
  return client.session ? <ChatScreen client={client} /> : <AuthScreen client={client} />;
}
