/* Kysy's admin page: documents (list, upload, delete, reindex) and feedback (paged, CSV).
 * The admin token is asked once and kept in sessionStorage: for this tab only, gone when it closes.
 * Server text is only ever set as text (textContent), never as HTML. */
(() => {
  "use strict";
  const KEY = "kysy-admin-token";
  const $ = (id) => document.getElementById(id);
  const TYPES = "PDF, DOCX, PPTX, TXT, MD tai HTML";
  // A refused upload by the API's error code, in Finnish; any other code shows the API's own text.
  const UPLOAD_ERRORS = {
    empty_file: (name) => `${name} on tyhjä tiedosto.`,
    not_text: (name) => `${name} ei ole tekstitiedosto, tai sen merkistöä ei tunnistettu. Tallenna se UTF-8-muodossa.`,
    unreadable_pdf: (name) => `${name} ei ole luettava PDF-tiedosto: se on vaurioitunut tai ei ole PDF.`,
    too_large: (name) => `${name} on liian suuri.`,
    unsupported_file: (name) => `${name}: tiedostotyyppiä ei tueta. Sallitut tyypit: ${TYPES}.`,
  };
  let nextBefore = null;

  function token() { return sessionStorage.getItem(KEY) || ""; }

  function say(text, isError = false) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", isError);
  }

  /** Forget the token and show the sign-in form again; the error to throw with ``message``. */
  function signedOut(message) {
    sessionStorage.removeItem(KEY);
    show(false);
    return new Error(message);
  }

  async function call(path, options = {}) {
    const response = await fetch(path, {
      ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${token()}` },
    });
    if (response.status === 401) throw signedOut("Tunnus ei kelpaa.");
    if (!response.ok) {
      let body = {};
      try { body = await response.json(); } catch (_) { /* not JSON */ }
      if (body.error === "admin_disabled") {
        throw signedOut("Ylläpito ei ole käytössä: palvelimelle ei ole asetettu ylläpitotunnusta (KYSY_ADMIN_TOKEN).");
      }
      const error = new Error(body.message || `Virhe ${response.status}`);
      error.code = body.error;
      throw error;
    }
    return response;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (className) td.className = className;
    return td;
  }

  /** A file name that wraps after - _ / and before a dot, inside a word only when one does not fit. */
  function fileCell(name) {
    const td = document.createElement("td");
    td.className = "file";
    for (const part of name.split(/(?<=[-_/])|(?=\.)/)) td.append(part, document.createElement("wbr"));
    td.lastChild.remove();
    return td;
  }

  /** "1 sivu", "12 sivua", "1 dia", "12 diaa". */
  function pageCount(count, unit) {
    const word = unit === "dia" ? "dia" : "sivu";
    return `${count} ${count === 1 ? word : word + "a"}`;
  }

  function show(loggedIn) {
    $("login").hidden = loggedIn;
    $("panel").hidden = !loggedIn;
    $("logout").hidden = !loggedIn;
  }

  async function loadDocuments() {
    const rows = await (await call("/api/admin/documents")).json();
    const body = $("documents").querySelector("tbody");
    body.replaceChildren();
    for (const doc of rows) {
      const tr = document.createElement("tr");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = "Poista";
      remove.setAttribute("aria-label", `Poista ${doc.file}`);
      remove.addEventListener("click", () => removeDocument(doc.file));
      const actions = document.createElement("td");
      actions.append(remove);
      tr.append(
        fileCell(doc.file), cell(doc.title, "title"), cell(pageCount(doc.pages, doc.unit)), cell(doc.chunks),
        cell(doc.modified ? new Date(doc.modified).toLocaleString("fi-FI") : "–"), actions,
      );
      tr.dataset.file = doc.file;
      body.append(tr);
    }
  }

  async function loadFeedback(more = false) {
    const params = new URLSearchParams({ limit: "50" });
    if (more && nextBefore) params.set("before", String(nextBefore));
    const page = await (await call(`/api/admin/feedback?${params}`)).json();
    const body = $("feedback").querySelector("tbody");
    if (!more) body.replaceChildren();
    for (const item of page.items) {
      const tr = document.createElement("tr");
      tr.append(
        cell(new Date(item.created).toLocaleString("fi-FI")), cell(item.rating === "up" ? "Hyvä" : "Huono"),
        cell(item.question, "long"), cell(item.answer, "long"), cell(item.comment || "", "long"),
      );
      body.append(tr);
    }
    nextBefore = page.next_before;
    $("more").hidden = !nextBefore;
    $("feedback-full").hidden = !page.full;
  }

  async function refresh() {
    await Promise.all([loadDocuments(), loadFeedback()]);
  }

  async function busy(message, work) {
    say(message);
    try {
      const result = await work();
      return result;
    } catch (error) {
      say(error.message, true);
      return null;
    }
  }

  async function removeDocument(file) {
    if (!window.confirm(`Poistetaanko ${file}?`)) return;
    const done = await busy(`Poistetaan ${file} ja indeksoidaan…`, async () =>
      (await call(`/api/admin/documents/${encodeURIComponent(file)}`, { method: "DELETE" })).json());
    if (done) {
      say(`${file} poistettu. Indeksissä on nyt ${done.chunks} tekstikappaletta.`);
      await loadDocuments();
    }
  }

  async function upload(event) {
    event.preventDefault();
    const input = $("file");
    if (!input.files.length) return;
    const name = input.files[0].name;
    const form = new FormData();
    form.append("file", input.files[0]);
    const done = await busy(`Lähetetään ${name} ja indeksoidaan…`, async () => {
      try {
        return await (await call("/api/admin/documents", { method: "POST", body: form })).json();
      } catch (error) {
        const finnish = UPLOAD_ERRORS[error.code];
        throw finnish ? new Error(finnish(name)) : error;
      }
    });
    if (done) {
      say(`${done.file} lisätty. Indeksissä on nyt ${done.chunks} tekstikappaletta.`);
      input.value = "";
      await loadDocuments();
    }
  }

  async function reindex() {
    const done = await busy("Indeksoidaan aineisto uudelleen…", async () =>
      (await call("/api/admin/reindex", { method: "POST" })).json());
    if (done) {
      say(`Indeksoitu: ${done.added.length} uutta, ${done.updated.length} muuttunutta, ${done.removed.length} poistettua.`);
      await loadDocuments();
    }
  }

  async function exportCsv() {
    const blob = await busy("Haetaan palautetta…", async () => (await call("/api/admin/feedback.csv")).blob());
    if (!blob) return;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "kysy-palaute.csv";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    say("Palaute ladattu CSV-tiedostona.");
  }

  async function login(event) {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    const ok = await busy("Kirjaudutaan…", async () => { await refresh(); return true; });
    if (ok) {
      show(true);
      say("Kirjauduttu.");
      $("docs-title").focus?.();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", login);
    $("upload").addEventListener("submit", upload);
    $("reindex").addEventListener("click", reindex);
    $("export").addEventListener("click", exportCsv);
    $("more").addEventListener("click", () => busy("Haetaan lisää…", () => loadFeedback(true)).then(() => say("")));
    $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); show(false); say("Kirjauduttu ulos."); });
    if (token()) {
      busy("Ladataan…", async () => { await refresh(); show(true); say(""); return true; });
    }
  });
})();
