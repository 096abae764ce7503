/// <reference lib="dom" />
document.getElementById("app")!.textContent = "chat";
