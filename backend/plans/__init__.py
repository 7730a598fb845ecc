"""Annual plans (年度抽查计划) and tasks (抽查任务)."""
