// Vant draws its switches, check boxes, radios, tab-bar items and clickable cells as elements with an ARIA
// role and tabindex="0" that answer clicks only: a keyboard (or a switch device, or a screen reader's
// keyboard mode) reaches them and nothing happens. One listener on the document presses them as the
// matching native control would be pressed: the space bar for every one of these roles, Enter for those a
// native button or link answers to (never for a check box or a radio, as in HTML). A view that makes a tag
// or a div a control gives it the role, tabindex="0" and its state (aria-checked / aria-pressed); this does
// the rest.

const SPACE = new Set(["button", "switch", "checkbox", "radio", "tab", "menuitem", "menuitemcheckbox",
  "menuitemradio", "option"]);
const ENTER = new Set(["button", "switch", "tab", "menuitem", "link", "option"]);
const NATIVE = new Set(["BUTTON", "INPUT", "SELECT", "TEXTAREA", "A", "SUMMARY", "OPTION"]);

export function activationKey(event: KeyboardEvent): boolean {
  if (event.defaultPrevented || event.repeat || event.altKey || event.ctrlKey || event.metaKey) return false;
  const el = event.target;
  if (!(el instanceof HTMLElement) || NATIVE.has(el.tagName) || el.isContentEditable) return false;
  const role = el.getAttribute("role");
  if (!role || el.getAttribute("aria-disabled") === "true") return false;
  return (event.key === " " && SPACE.has(role)) || (event.key === "Enter" && ENTER.has(role));
}

export function pressWithKeyboard(root: Document = document): () => void {
  const onKeydown = (event: KeyboardEvent) => {
    if (!activationKey(event)) return;
    event.preventDefault();                 // the space bar would also scroll the page
    (event.target as HTMLElement).click();
  };
  root.addEventListener("keydown", onKeydown);
  return () => root.removeEventListener("keydown", onKeydown);
}
