// 导入离线记录 (office/offline/lib.ts): the preview in words, the gap's second confirmation, the result's labels.
import { describe, expect, it } from "vitest";
import {
  confirmBody, deviceName, gapText, mayConfirm, mutationLabel, notReached, outcomeLabel, outcomeTone, previewLines, sizeText,
  statusTone, summaryText, type Preview,
} from "../office/offline/lib";
import { mayOpen, menuFor } from "../office/lib/menu";
import { actionLabel } from "../office/lib/audit";

const preview: Preview = {
  officer: { id: 4, username: "samr_inspector", display_name: "冯建桂", department_id: 1, department_name: "陕州区市场监督管理局" },
  client_id: "0f6c2a4e-8b1d-4c3a-9e5f-7a2b1c0d9e8f", exported_at: "2026-11-30T05:00:00.000Z",
  device: { label: "执法终端", last_mutation_id: 3, retired_at: null },
  mutations: 5, first_id: 2, last_id: 6, already_received: 2, to_deliver: 3,
  photos: 4, photos_on_server: 1, photos_without_data: 0, unverifiable_signatures: 0, gap: null,
};
const gapped: Preview = { ...preview, to_deliver: 0, gap: { expected: 4, got: 6, lost: [4, 5], after: 1 } };

describe("the preview", () => {
  it("says who, which device, what the server has and what it would deliver", () => {
    const lines = previewLines(preview);
    expect(lines.map((l) => l.text)).toEqual([
      "账号：冯建桂（samr_inspector），陕州区市场监督管理局",
      "设备：执法终端（冯建桂，2026-11-30 13:00 导出），服务器已收到第 3 条为止",
      "变更：共 5 条（第 2–6 条）；服务器已收到 2 条（不会重复采用），将送达 3 条",
      "照片：4 张，其中 1 张服务器上已有",
    ]);
    // the device's id only in the tooltip, for the support desk
    expect(lines[1].title).toBe("设备编号：0f6c2a4e-8b1d-4c3a-9e5f-7a2b1c0d9e8f");
    expect(lines.filter((l) => l.text.includes(String(preview.client_id)))).toEqual([]);
  });
  it("names a new device, a retired one, photos without content and co-signatures it cannot verify", () => {
    const lines = previewLines({ ...preview, device: null, photos_without_data: 2, unverifiable_signatures: 1 });
    expect(lines[1].text).toBe("设备：冯建桂的手机（2026-11-30 13:00 导出），服务器上还没有这台设备");
    expect(lines[3].text).toContain("2 张导出时没有内容");
    expect(lines[4].text).toContain("1 个代签在导出时删去了密码");
    expect(previewLines({ ...preview, device: { label: null, last_mutation_id: 3, retired_at: "2026-12-01T00:00:00Z" } })[1].text)
      .toBe("设备：冯建桂的手机（2026-11-30 13:00 导出），服务器已收到第 3 条为止，已停用");
    expect(previewLines({ ...preview, exported_at: null, device: { label: " ", last_mutation_id: 0, retired_at: null } })[1].text)
      .toBe("设备：冯建桂的手机，服务器尚未收到它的变更");
    expect(deviceName({ device: null, officer: undefined })).toBe("未命名的设备");
  });
  it("explains a gap, and none when the ids follow on", () => {
    expect(gapText(preview)).toBe("");
    expect(gapText(gapped)).toContain("第 4–5 条不在文件中");
    expect(gapText(gapped)).toContain("先停用这台设备，再把其后 1 条");
    expect(gapText({ ...gapped, gap: { expected: 4, got: 5, lost: [4, 4], after: 2 } })).toContain("第 4 条不在文件中");
  });
});

describe("confirming", () => {
  it("needs the gap's own tick", () => {
    expect(mayConfirm(null, false)).toBe(false);
    expect(mayConfirm(preview, false)).toBe(true);
    expect(mayConfirm(gapped, false)).toBe(false);
    expect(mayConfirm(gapped, true)).toBe(true);
  });
  it("asks to close a gap only when there is one", () => {
    expect(confirmBody(preview, true)).toEqual({ close_gap: false });
    expect(confirmBody(gapped, false)).toEqual({ close_gap: false });
    expect(confirmBody(gapped, true)).toEqual({ close_gap: true });
  });
});

describe("the result", () => {
  it("names each mutation's answer", () => {
    expect(outcomeLabel({ status: "applied", replayed: false })).toBe("已采用");
    expect(outcomeLabel({ status: "applied", replayed: true })).toBe("此前已收到");
    expect(outcomeLabel({ status: "rejected", replayed: true })).toBe("此前已收到");
    expect(outcomeLabel({ status: "conflict", replayed: false })).toBe("部分采用（冲突）");
    expect(outcomeLabel({ status: "rejected", replayed: false })).toBe("被拒");
    expect(outcomeTone({ status: "rejected", replayed: false })).toBe("danger");
    expect(outcomeTone({ status: "applied", replayed: true })).toBe("info");
    expect(mutationLabel("section.set")).toBe("填写检查内容（section.set）");
    expect(mutationLabel("something.new")).toBe("something.new");
  });
  it("counts in one sentence, and what a stopped import did not reach", () => {
    expect(summaryText({ applied: 2, conflict: 0, rejected: 1, replayed: 3 })).toBe("新采用 2 条，冲突 0 条，被拒 1 条，此前已收到 3 条");
    expect(summaryText(undefined)).toBe("—");
    expect(notReached({ mutations: 5, outcomes: [{ id: 1, status: "applied", replayed: false }] })).toBe(4);
    expect(notReached(null)).toBe(0);
  });
  it("colours the statuses and sizes the files", () => {
    expect(statusTone("imported")).toBe("success");
    expect(statusTone("previewed")).toBe("warning");
    expect(statusTone("failed")).toBe("danger");
    expect(statusTone("interrupted")).toBe("danger");
    expect(statusTone("importing")).toBe("warning");
    expect(statusTone("cancelled")).toBe("info");
    expect(sizeText(512)).toBe("512 字节");
    expect(sizeText(6 * 1024 * 1024 + 300000)).toBe("6.3 MB");
  });
});

describe("the audit log", () => {
  it("names an import of an exported outbox", () => {
    expect(actionLabel("sync.import")).toBe("离线记录 · 导入");
  });
});

describe("the menu", () => {
  it("opens the screen to the admins only", () => {
    expect(menuFor("dept_admin").find((g) => g.key === "lists")?.entries.map((e) => e.path)).toContain("/offline-imports");
    expect(mayOpen("sysadmin", "/offline-imports/3")).toBe(true);
    expect(mayOpen("planner", "/offline-imports")).toBe(false);
    expect(mayOpen("inspector", "/offline-imports")).toBe(false);
  });
});
