// One API call of the planners' screens: JSON in, JSON out, 200 or 201 taken as success (the shared client
// throws the API's error, shown as its message by ErrorBanner).
import { api } from "../lib/session";

export function call<T>(method: string, path: string, json?: unknown): Promise<T> {
  return api.requestJSON<T>(method, path, json === undefined ? {} : { json }, [200, 201]);
}
