/* kefu chat widget loader. Add one tag to any page:
 *   <script src="https://YOUR-KEFU-HOST/chat/embed.js" async></script>
 * It adds a round chat button (bottom right) that opens this server's /chat in an
 * iframe; the widget keeps its own token in its own origin's localStorage.
 * Options as data- attributes on the tag: data-position="left", data-open="true",
 * data-team="billing" (customers enter through that team's queue; without it the widget
 * offers the teams as a choice, when there are any).
 *
 * A logged-in user of your site (issue 15, "identify"): the same customer, with its
 * history, on every device. Your server computes
 *   user_hash = hex(HMAC-SHA256(the site's secret, user id))
 * (the secret is shown once in the dashboard, Widget section; never put it in a page)
 * and the page passes it as data- attributes:
 *   data-site="site_..." data-user-id="42" data-user-hash="..." data-user-name="..."
 *   data-user-email="..."
 * or from its code, before or after this tag loads:
 *   window.kefu = window.kefu || function () { (kefu.q = kefu.q || []).push(arguments); };
 *   kefu("identify", { site: "site_...", user_id: "42", user_hash: "...", name: "...",
 *                      email: "...", attributes: { plan: "pro" } });
 *   kefu("attributes", { plan: "trial" });  // an anonymous visitor's (not verified)
 *   kefu("open"); kefu("close");
 * They reach the widget by postMessage to its origin only, never in a URL.
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

  // the site's identify and attributes, (re)sent whenever the widget says it is ready
  var told = {};
  var ready = false;
  function tell(kind, msg) {
    told[kind] = msg;
    if (ready) frame.contentWindow.postMessage(msg, origin);
  }
  function command(cmd, arg) {
    if (cmd === "identify" && arg) tell("identify", { kefu: "identify", identity: arg });
    else if (cmd === "attributes" && arg) tell("attributes", { kefu: "attributes", attributes: arg });
    else if (cmd === "open") toggle(true);
    else if (cmd === "close") toggle(false);
  }
  var queued = (window.kefu && window.kefu.q) || [];
  window.kefu = function (cmd, arg) { command(cmd, arg); };
  if (script.getAttribute("data-user-id")) {
    command("identify", { site: script.getAttribute("data-site"),
      user_id: script.getAttribute("data-user-id"), user_hash: script.getAttribute("data-user-hash"),
      name: script.getAttribute("data-user-name") || undefined,
      email: script.getAttribute("data-user-email") || undefined });
  }
  for (var i = 0; i < queued.length; i += 1) command(queued[i][0], queued[i][1]);

  window.addEventListener("message", function (ev) {
    if (ev.origin !== origin || !ev.data) return;
    if (ev.data.kefu === "close") toggle(false);
    if (ev.data.kefu === "ready" && ev.source === frame.contentWindow) {
      ready = true;
      if (told.identify) frame.contentWindow.postMessage(told.identify, origin);
      if (told.attributes) frame.contentWindow.postMessage(told.attributes, origin);
    }
  });
  function mount() {
    document.body.appendChild(frame);
    document.body.appendChild(button);
    if (script.getAttribute("data-open") === "true") toggle(true);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
}());
