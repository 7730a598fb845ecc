// Colours of the credit-risk classes (A–D), apart from the rules so the task list (the first screen) does not
// load the rules file with them.
export const RISK_COLORS: Record<string, string> = { A: "#2e7d32", B: "#1565c0", C: "#ef6c00", D: "#c62828" };
