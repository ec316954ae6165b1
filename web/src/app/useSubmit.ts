import { useState } from "preact/hooks";
import { ParleyError } from "../sdk";

/** A form's submit handler with its busy flag and the error to show. */
export function useSubmit(action: () => Promise<void>, describe: (e: unknown) => string = errorText, initialError = "") {
  const [error, setError] = useState(initialError);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await action();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }
  return { submit, error, busy };
}

export function errorText(err: unknown): string {
  return err instanceof ParleyError ? err.message : String(err);
}
