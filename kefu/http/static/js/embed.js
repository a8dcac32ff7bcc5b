/* kefu chat widget loader. Add one tag to any page:
 *   <script src="https://YOUR-KEFU-HOST/chat/embed.js" async></script>
 * It adds a round chat button (bottom right) that opens this server's /chat in an
 * iframe; the widget keeps its own token in its own origin's localStorage.
 * Options as data- attributes on the tag: data-position="left", data-open="true",
 * data-team="billing" (customers enter through that team's queue; without it the widget
 * offers the teams as a choice, when there are any).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__kefuEmbed) return;
  window.__kefuEmbed = true;
  var origin = new URL(script.src, location.href).origin;
  var left = script.getAttribute("data-position") === "left";
  var zh = !(navigator.language || "").toLowerCase().startsWith("en");
  var side = left ? "left" : "right";

  var frame = document.createElement("iframe");
  var team = script.getAttribute("data-team");
  frame.src = origin + "/chat?embed=1" + (team ? "&team=" + encodeURIComponent(team) : "");
  frame.title = zh ? "在线客服" : "Customer service";
  frame.setAttribute("allow", "clipboard-write");
  frame.style.cssText = "position:fixed;bottom:88px;" + side + ":20px;width:380px;height:600px;" +
    "max-width:calc(100vw - 24px);max-height:calc(100vh - 110px);border:0;border-radius:14px;" +
    "box-shadow:0 12px 40px rgba(15,23,42,.25);z-index:2147483646;display:none;background:#fff";

  var button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-label", zh ? "打开在线客服" : "Open customer service chat");
  var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "28");
  svg.setAttribute("height", "28");
  svg.setAttribute("aria-hidden", "true");
  var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M20.5 12a8.5 8.5 0 0 1-12.3 7.6L3.5 21l1.4-4.5A8.5 8.5 0 1 1 20.5 12z");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linejoin", "round");
  svg.appendChild(path);
  button.appendChild(svg);
  button.style.cssText = "position:fixed;bottom:20px;" + side + ":20px;width:56px;height:56px;" +
    "border-radius:50%;border:0;background:#2563eb;color:#fff;cursor:pointer;display:grid;place-items:center;" +
    "box-shadow:0 6px 20px rgba(37,99,235,.45);z-index:2147483647";

  function toggle(open) {
    var show = open === undefined ? frame.style.display === "none" : open;
    frame.style.display = show ? "block" : "none";
    button.setAttribute("aria-expanded", show ? "true" : "false");
    var narrow = show && window.innerWidth < 480; // phones: the widget fills the screen
    frame.style.inset = narrow ? "0" : "auto auto 88px auto";
    frame.style[side] = narrow ? "0" : "20px";
    frame.style.width = narrow ? "100vw" : "380px";
    frame.style.height = narrow ? "100vh" : "600px";
    frame.style.maxHeight = narrow ? "none" : "calc(100vh - 110px)";
    frame.style.borderRadius = narrow ? "0" : "14px";
    button.style.display = narrow ? "none" : "grid";
  }
  button.addEventListener("click", function () { toggle(); });
  window.addEventListener("message", function (ev) {
    if (ev.origin === origin && ev.data && ev.data.kefu === "close") toggle(false);
  });
  function mount() {
    document.body.appendChild(frame);
    document.body.appendChild(button);
    if (script.getAttribute("data-open") === "true") toggle(true);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
}());
