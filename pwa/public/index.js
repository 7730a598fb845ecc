// Home page: open the verifier for a task code (a file: the Content-Security-Policy allows no inline script).
document.getElementById("lookup").addEventListener("submit", (event) => {
  event.preventDefault();
  const task = document.getElementById("task").value.trim();
  if (task) location.href = "/draw/verify.html?record=" + encodeURIComponent("/api/public/draws/" + encodeURIComponent(task) + "/record");
});
