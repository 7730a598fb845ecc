// A public list that follows the URL: a page is loaded whenever the query changes (the error in plain words,
// `loading` while it comes); another page or a new search is a change of the URL, so a link or the back button
// shows the same list.
import { ref, watch, type Ref } from "vue";
import { useRoute, useRouter, type LocationQuery } from "vue-router";
import { getJSON, messageOf, type Page } from "./public";

type Params = Record<string, string | number | boolean | null | undefined>;

export function usePublicList<T>(path: string, params: (query: LocationQuery) => Params) {
  const route = useRoute();
  const router = useRouter();
  const data = ref(null) as Ref<Page<T> | null>;
  const error = ref("");
  const loading = ref(false);
  let seq = 0;

  async function load() {
    const mine = ++seq;
    loading.value = true;
    error.value = "";
    try {
      const page = await getJSON<Page<T>>(path, params(route.query));
      if (mine === seq) data.value = page;
    } catch (exc) {
      if (mine === seq) error.value = messageOf(exc);
    } finally {
      if (mine === seq) loading.value = false;
    }
  }
  watch(() => route.query, load, { immediate: true });

  /** A new search: the filters given (empty ones left out), from its first page. */
  function search(filters: Record<string, string | undefined>) {
    const query: Record<string, string> = {};
    for (const [k, v] of Object.entries(filters)) if (v) query[k] = v;
    void router.push({ query });
  }
  function go(page: number) { void router.push({ query: { ...route.query, page: String(page) } }); }
  return { route, data, error, loading, search, go };
}
