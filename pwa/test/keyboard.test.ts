import { afterEach, describe, expect, it } from "vitest";
import { pressWithKeyboard } from "../src/lib/keyboard";

function control(html: string): { el: HTMLElement; clicks: () => number } {
  document.body.innerHTML = html;
  const el = document.body.firstElementChild as HTMLElement;
  let n = 0;
  el.addEventListener("click", () => { n += 1; });
  return { el, clicks: () => n };
}

function press(el: HTMLElement, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  el.dispatchEvent(event);
  return event;
}

describe("Vant's role=… controls answer the keyboard", () => {
  let stop = () => {};
  afterEach(() => stop());

  it("the space bar presses a switch, a check box, a radio, a button (and does not scroll)", () => {
    stop = pressWithKeyboard(document);
    for (const role of ["switch", "checkbox", "radio", "button", "tab"]) {
      const { el, clicks } = control(`<div role="${role}" tabindex="0">x</div>`);
      const event = press(el, " ");
      expect([role, clicks()]).toEqual([role, 1]);
      expect(event.defaultPrevented).toBe(true);
    }
  });

  it("Enter presses buttons, switches and tabs, never a check box or a radio (as in HTML)", () => {
    stop = pressWithKeyboard(document);
    for (const [role, expected] of [["button", 1], ["switch", 1], ["tab", 1], ["checkbox", 0], ["radio", 0]] as const) {
      const { el, clicks } = control(`<span role="${role}" tabindex="0">x</span>`);
      press(el, "Enter");
      expect([role, clicks()]).toEqual([role, expected]);
    }
  });

  it("leaves native controls, disabled ones, other keys, held keys and shortcuts alone", () => {
    stop = pressWithKeyboard(document);
    const cases: [string, string, KeyboardEventInit][] = [
      ['<button role="switch">x</button>', " ", {}],            // the browser presses it already
      ['<input role="switch" type="checkbox">', " ", {}],
      ['<div role="switch" aria-disabled="true" tabindex="0">x</div>', " ", {}],
      ['<div tabindex="0">x</div>', " ", {}],                    // no role: not a control
      ['<div role="switch" tabindex="0">x</div>', "a", {}],
      ['<div role="switch" tabindex="0">x</div>', " ", { repeat: true }],
      ['<div role="button" tabindex="0">x</div>', "Enter", { ctrlKey: true }],
    ];
    for (const [html, key, init] of cases) {
      const { el, clicks } = control(html);
      const event = press(el, key, init);
      expect([html, key, clicks(), event.defaultPrevented]).toEqual([html, key, 0, false]);
    }
  });

  it("stops when asked", () => {
    pressWithKeyboard(document)();
    const { el, clicks } = control('<div role="switch" tabindex="0">x</div>');
    press(el, " ");
    expect(clicks()).toBe(0);
  });
});
