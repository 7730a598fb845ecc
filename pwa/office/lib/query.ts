// A server-paged table's state lives in the URL query (page, page_size, sort, filters): a link, a reload or
// the back button shows the same page. These functions read and write it; the table never loads a whole list.
export type Query = Record<string, string | null | (string | null)[] | undefined>;

export interface TableState { page: number; pageSize: number; sort: string; filters: Record<string, string> }

export const PAGE_SIZES = [20, 50, 100] as const;

function first(v: Query[string]): string {
  if (Array.isArray(v)) return v.length ? String(v[0] ?? "") : "";
  return v == null ? "" : String(v);
}

function positive(v: string, fallback: number, max: number): number {
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : fallback;
}

/** The table's state from the route's query: only ``filterKeys`` count as filters; bad numbers fall back. */
export function readState(query: Query, filterKeys: readonly string[], defaultSize = 20): TableState {
  const filters: Record<string, string> = {};
  for (const k of filterKeys) {
    const v = first(query[k]).trim();
    if (v) filters[k] = v;
  }
  return {
    page: positive(first(query.page), 1, 2147483647),
    pageSize: positive(first(query.page_size), defaultSize, 200),
    sort: first(query.sort).trim(),
    filters,
  };
}

/** The route query for ``state`` (defaults left out, so the URL stays short). */
export function writeState(state: TableState, defaultSize = 20): Record<string, string> {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(state.filters)) if (v !== "" && v != null) q[k] = v;
  if (state.page > 1) q.page = String(state.page);
  if (state.pageSize !== defaultSize) q.page_size = String(state.pageSize);
  if (state.sort) q.sort = state.sort;
  return q;
}

/** The API's query string for ``state``: page and page_size always, the filters, the sort when there is one. */
export function apiParams(state: TableState, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...extra, ...state.filters })) if (v !== "") p.set(k, v);
  if (state.sort) p.set("sort", state.sort);
  p.set("page", String(state.page));
  p.set("page_size", String(state.pageSize));
  return p.toString();
}

/** New filters: back to page 1 (the old page may not exist any more), size and sort kept. */
export function withFilters(state: TableState, filters: Record<string, string>): TableState {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(filters)) if (v != null && String(v).trim() !== "") clean[k] = String(v).trim();
  return { ...state, page: 1, filters: clean };
}

/** Element Plus's sort-change ({prop, order}) as the query's `sort`: "name", "-name" or "". */
export function sortParam(prop: string | null | undefined, order: string | null | undefined): string {
  if (!prop || !order) return "";
  return order === "descending" ? `-${prop}` : prop;
}
