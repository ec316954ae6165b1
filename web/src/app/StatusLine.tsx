import { useEffect, useState } from "preact/hooks";
import type { ConnectionStatus } from "../sdk";

/** The connection state, always visible: users must know when they are offline. */
export function StatusLine({ status }: { status: ConnectionStatus }) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (status.state !== "offline") return;
    const t = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(t);
  }, [status]);

  let text: string;
  switch (status.state) {
    case "online":
      text = "Connected";
      break;
    case "connecting":
      text = status.attempt === 0 ? "Connecting…" : "Reconnecting…";
      break;
    case "offline": {
      const secs = Math.max(0, Math.ceil((status.retryAtMs - Date.now()) / 1000));
      text = `Offline: ${status.reason}. Retrying${secs ? ` in ${secs}s` : "…"}`;
      break;
    }
    case "signed_out":
      text = "Signed out";
      break;
    default:
      text = "";
  }
  return (
    <div class={`status status-${status.state}`} data-testid="status" data-state={status.state} role="status">
      <span class="status-dot" />
      {text}
    </div>
  );
}
