import { isRetryable } from "./protocol";

/**
 * An error with a protocol code (docs/protocol.md section 8), plus the SDK's
 * own codes: `connection_lost` (the connection dropped before the reply),
 * `timeout` (no reply in time), `not_connected`, `network` (HTTP unreachable)
 * and `signed_out`.
 */
export class ParleyError extends Error {
  readonly code: string;
  readonly retryAfterMs: number;

  constructor(code: string, message: string, retryAfterMs = 0) {
    super(message || code);
    this.name = "ParleyError";
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  /** Whether the same request may succeed if tried again later. */
  get retryable(): boolean {
    return isRetryable(this.code) || this.code === "network";
  }
}
