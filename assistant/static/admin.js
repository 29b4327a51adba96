/* Kysy's admin page: documents (list, upload, delete, reindex) and feedback (paged, CSV).
 * The admin token is asked once and kept in sessionStorage: for this tab only, gone when it closes.
 * An upload, a delete or a reindex starts an index job on the server; the page follows it (stage and
 * percent, every second) until it ends, and says how it ended.
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
    index_locked: () => "Indeksointi on jo käynnissä: yritä uudelleen, kun se on valmis.",
  };
  // The stages an index job reports (the ingest's own, then the swap to the new index).
  const STAGES = {
    start: "Aloitetaan",
    parse: "Luetaan tiedostoja",
    embed: "Lasketaan vektoreita",
    swap: "Otetaan uusi indeksi käyttöön",
  };
  const STATES = {
    indexed: "Indeksoitu", waiting: "Odottaa indeksointia", failed: "Epäonnistui",
    changed: "Muuttunut, odottaa indeksointia",  // indexed, but its file differs or is gone (a cancelled job)
  };
  const POLL_MS = 1000;
  let nextBefore = null;
  let jobTimer = null;

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
    // No lookbehind in the pattern: Safari before 16.4 would refuse the whole script.
    for (const part of name.replace(/[-_/]/g, "$&\n").replace(/\./g, "\n.").split("\n")) {
      td.append(part, document.createElement("wbr"));
    }
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
      const indexed = doc.state === "indexed" || doc.state === "changed";
      const state = doc.state === "failed" || doc.state === "changed"
        ? `${STATES[doc.state]}: ${doc.reason}` : STATES[doc.state] || doc.state;
      tr.append(
        fileCell(doc.file), cell(indexed ? doc.title : "–", "title"), cell(indexed ? pageCount(doc.pages, doc.unit) : "–"),
        cell(indexed ? doc.chunks : "–"), cell(doc.modified ? new Date(doc.modified).toLocaleString("fi-FI") : "–"),
        cell(state, doc.state === "failed" ? "long failed" : doc.state === "changed" ? "long" : ""), actions,
      );
      tr.dataset.file = doc.file;
      tr.dataset.state = doc.state;
      body.append(tr);
    }
    lockChanges(!$("job").hidden);
  }

  /** While a job runs the corpus cannot change: the buttons that would change it say so and wait. */
  function lockChanges(locked) {
    const buttons = [$("upload").querySelector("button"), $("reindex"),
      ...$("documents").querySelectorAll("tbody button")];
    for (const button of buttons) {
      button.disabled = locked;
      if (locked) button.title = "Indeksointi on käynnissä";
      else button.removeAttribute("title");
    }
  }

  const number = (n) => n.toLocaleString("fi-FI");

  /** What the job does, in words: "lisätään poro.txt", "poistetaan poro.txt", "koko aineisto". */
  function jobSubject(job) {
    if (job.action === "upload") return `lisätään ${job.file}`;
    if (job.action === "delete") return `poistetaan ${job.file}`;
    return "koko aineisto";
  }

  /** The running job in the panel: its stage, done/total and percent; the bar follows the stage. */
  function showJob(job) {
    const bar = $("job-progress");
    const step = job.progress[job.stage];
    let stage = STAGES[job.stage] || job.stage;
    if (job.stage === "embed" && step && step.done >= step.total) stage = "Tallennetaan indeksiä";
    let text = `Indeksointi käynnissä (${jobSubject(job)}): ${stage}`;
    if (step && step.total) {
      const percent = Math.floor((100 * step.done) / step.total);
      text += ` ${number(step.done)} / ${number(step.total)} (${percent} %)`;
      bar.value = percent;
    } else {
      bar.removeAttribute("value");
    }
    if (job.state === "cancelling") text += ". Peruutetaan…";
    $("job-text").textContent = text;
    $("cancel").disabled = job.state === "cancelling";
    $("job").hidden = false;
    lockChanges(true);
  }

  /** How the job ended, in Finnish (the API's own text for a failure). */
  function outcome(job) {
    if (job.state === "cancelled") {
      // The change made to the aineisto before the job stays: the next reindex applies it.
      const left = {
        upload: ` ${job.file} on jo aineistossa ja odottaa indeksointia; voit poistaa sen.`,
        delete: ` ${job.file} on jo poistettu aineistosta, mutta se on yhä indeksissä; seuraava indeksointi poistaa sen.`,
      }[job.action] || "";
      return [`Indeksointi peruttiin (${jobSubject(job)}). Indeksi on ennallaan.${left}`, false];
    }
    if (job.state === "failed") return [`Indeksointi epäonnistui (${jobSubject(job)}): ${job.error.message}`, true];
    const result = job.result;
    const failed = result.failed.length ? ` Ei voitu indeksoida: ${result.failed.map((f) => f.file).join(", ")}.` : "";
    const chunks = ` Indeksissä on nyt ${number(result.chunks)} tekstikappaletta.`;
    if (job.action === "upload") return [`${job.file} lisätty.${chunks}${failed}`, false];
    if (job.action === "delete") return [`${job.file} poistettu.${chunks}${failed}`, false];
    return [`Indeksoitu: ${result.added.length} uutta, ${result.updated.length} muuttunutta, ` +
      `${result.removed.length} poistettua.${failed}`, false];
  }

  /** Follow the job until it ends, then say how it ended (``announce``) and show the list as it is now. */
  async function followJob(announce = true) {
    clearTimeout(jobTimer);
    let job = null;
    try {
      const response = await call("/api/admin/reindex");
      job = response.status === 204 ? null : await response.json();
    } catch (error) {
      say(error.message, true);
      if (token()) jobTimer = setTimeout(() => followJob(announce), POLL_MS);  // signed out: stop
      return;
    }
    if (job && (job.state === "running" || job.state === "cancelling")) {
      showJob(job);
      jobTimer = setTimeout(() => followJob(announce), POLL_MS);
      return;
    }
    $("job").hidden = true;
    lockChanges(false);
    if (job && announce) say(...outcome(job));
    await loadDocuments().catch((error) => say(error.message, true));
  }

  async function cancelJob() {
    const job = await busy("Peruutetaan indeksointia…", async () =>
      (await call("/api/admin/reindex", { method: "DELETE" })).json());
    if (job) showJob(job);
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
    followJob(false);
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
    const response = await busy(`Poistetaan ${file}…`, () =>
      call(`/api/admin/documents/${encodeURIComponent(file)}`, { method: "DELETE" }));
    if (!response) return;
    if (response.status === 202) {
      say(`Poistetaan ${file}: indeksoidaan…`);
      showJob(await response.json());
      await followJob();
    } else {  // a file the index never had: nothing to index
      say(`${file} poistettu.`);
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
    const job = await busy(`Lähetetään ${name}…`, async () => {
      try {
        return await (await call("/api/admin/documents", { method: "POST", body: form })).json();
      } catch (error) {
        const finnish = UPLOAD_ERRORS[error.code];
        throw finnish ? new Error(finnish(name)) : error;
      }
    });
    if (job) {
      say(`${job.file} lähetetty. Indeksoidaan…`);
      input.value = "";
      showJob(job);
      await loadDocuments();
      await followJob();
    }
  }

  async function reindex() {
    const job = await busy("Indeksoidaan aineisto uudelleen…", async () =>
      (await call("/api/admin/reindex", { method: "POST" })).json());
    if (job) {
      showJob(job);
      await followJob();
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

  /** Whether the server has the admin on (GET /api/config); when it cannot be asked, assumed on, and the
   * sign-in tells what is wrong. */
  async function adminOn() {
    try {
      const response = await fetch("/api/config", { cache: "no-cache" });
      return !response.ok || (await response.json()).admin !== false;
    } catch (_) {
      return true;
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("login").addEventListener("submit", login);
    $("upload").addEventListener("submit", upload);
    $("reindex").addEventListener("click", reindex);
    $("cancel").addEventListener("click", cancelJob);
    $("export").addEventListener("click", exportCsv);
    $("more").addEventListener("click", () => busy("Haetaan lisää…", () => loadFeedback(true)).then(() => say("")));
    $("logout").addEventListener("click", () => {
      clearTimeout(jobTimer);
      sessionStorage.removeItem(KEY);
      show(false);
      say("Kirjauduttu ulos.");
    });
    if (!(await adminOn())) {  // said at once, instead of after a token typed in vain
      sessionStorage.removeItem(KEY);
      $("off").hidden = false;
      return;
    }
    $("login").hidden = false;
    if (token()) {
      busy("Ladataan…", async () => { await refresh(); show(true); say(""); return true; });
    }
  });
})();
