// The dashboard's figures asked as soon as the route is entered, while the screen's code still loads: the
// screen takes the answer if its query is the same (one request, never two).
import { api } from "../lib/session";

let pending: { query: string; answer: Promise<unknown> } | null = null;

export function prefetchFigures(query: string): void {
  pending = { query, answer: api.requestJSON("GET", `/api/v1/figures?${query}`) };
  pending.answer.catch(() => undefined);   // a refusal is read (and shown) by the screen
}

/** The prefetched answer for ``query`` (once), else a new request. */
export function figuresFor<T>(query: string): Promise<T> {
  const mine = pending && pending.query === query ? pending.answer : null;
  pending = null;
  return (mine ?? api.requestJSON<T>("GET", `/api/v1/figures?${query}`)) as Promise<T>;
}
