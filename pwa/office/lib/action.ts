// One way for a screen to run what the user asked (a save, a step, a confirm): `busy` while it runs (the button
// shows its spinner), `error` what the API answered if it failed (an ErrorBanner shows its message).
import { ref } from "vue";

export function useAction() {
  const busy = ref(false);
  const error = ref<unknown>(null);
  /** Run ``fn``; a failure is kept in ``error`` (not thrown), and the answer is undefined then. */
  async function act<T>(fn: () => Promise<T>): Promise<T | undefined> {
    busy.value = true;
    error.value = null;
    try {
      return await fn();
    } catch (e) {
      error.value = e;
      return undefined;
    } finally {
      busy.value = false;
    }
  }
  return { busy, error, act };
}
