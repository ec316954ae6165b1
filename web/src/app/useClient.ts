import { useEffect, useState } from "preact/hooks";
import type { ParleyClient } from "../sdk";

/** Re-renders the calling component whenever the client's state changes. */
export function useClient(client: ParleyClient): number {
  const [version, setVersion] = useState(0);
  useEffect(() => client.onChange(() => setVersion((v) => v + 1)), [client]);
  return version;
}
