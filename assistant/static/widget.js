/* Kysy chat widget: one script tag adds a cited-answer chat to any page.
 *
 * <script src="https://HOST/widget.js" data-kysy-api="https://HOST" data-lang="fi" defer></script>
 *
 * Optional attributes: data-lang (fi | sv | en), data-title, data-accent (a CSS colour with
 * at least 4.5:1 contrast against white), data-position (bottom-right | bottom-left),
 * data-target="#element-id" (render inline into that element instead of floating) and
 * data-timeout (seconds without a byte from the server before a question fails; default 60).
 * Everything lives in an open shadow root; server text only ever reaches the page as text nodes.
 * The conversation is kept per browser tab (sessionStorage), so it survives reloads and moving
 * between pages of the same site; "Uusi keskustelu" starts over. The history sent with a question
 * is bounded by the server's limits (GET /api/config).
 */
(() => {
  "use strict";

  const STRINGS = {
    fi: {
      title: "Kysy yhdyspinnoista",
      subtitle: "Vastaukset Kuntaliiton aineistoista lähteineen",
      open: "Avaa Kysy-chat",
      close: "Sulje Kysy-chat",
      newConversation: "Uusi keskustelu",
      log: "Keskustelu",
      inputLabel: "Kirjoita kysymyksesi",
      placeholder: "Kirjoita kysymys…",
      send: "Lähetä kysymys",
      welcome: "Hei! Vastaan kuntien ja hyvinvointialueiden yhteistyötä koskeviin kysymyksiin ja kerron, mistä aineistosta vastaus löytyy.",
      suggestions: "Esimerkkikysymyksiä",
      starters: [
        "Ketkä rahoittavat yhdyspintaprojektia?",
        "Mikä on Etelä-Karjalan väestöpohja?",
        "Miten aluepiloteissa toimitaan?",
        "Millä aloilla kunnilla ja hyvinvointialueilla on yhdyspintoja?",
      ],
      you: "Sinä",
      assistant: "Kysy",
      thinking: "Haetaan vastausta aineistoista…",
      sources: "Lähteet",
      source: "Lähde",
      page: "sivu",
      slide: "dia",
      opensNewTab: "avautuu uuteen välilehteen",
      notFound: "Vastausta ei löytynyt aineistoista",
      partial: "Osittainen vastaus: aineisto ei kerro varmasti kysyttyä tietoa",
      helpful: "Oliko vastauksesta apua?",
      up: "Hyödyllinen vastaus",
      down: "Ei hyödyllinen vastaus",
      thanks: "Kiitos palautteesta!",
      feedbackFailed: "Palautteen lähetys epäonnistui.",
      copy: "Kopioi vastaus lähteineen",
      copied: "Vastaus kopioitu lähteineen.",
      copyFailed: "Kopiointi ei onnistunut.",
      commentLabel: "Mikä vastauksessa oli vialla? (vapaaehtoinen)",
      commentSend: "Lähetä kommentti",
      commentSent: "Kiitos, kommentti lähetetty!",
      retry: "Yritä uudelleen",
      offline: "Yhteyttä palveluun ei saatu. Tarkista verkkoyhteys ja yritä uudelleen.",
      timeout: "Palvelu ei vastannut ajoissa. Yritä uudelleen.",
      rateLimited: (s) => `Liian monta kysymystä lyhyessä ajassa. Voit kysyä uudelleen ${s} sekunnin kuluttua.`,
      rateLimitedNow: "Liian monta kysymystä lyhyessä ajassa. Voit nyt yrittää uudelleen.",
      busy: "Palvelu on juuri nyt ruuhkautunut. Yritä hetken kuluttua uudelleen.",
      serverError: "Palvelussa tapahtui virhe. Yritä uudelleen.",
      tooLong: "Kysymys on liian pitkä. Lyhennä sitä ja lähetä uudelleen.",
      atLimit: "Kysymykseen mahtuu {n} merkkiä; pidemmästä tekstistä loppu jää pois.",
      invalid: "Kysymystä ei voitu käsitellä. Muokkaa sitä ja lähetä uudelleen.",
      disclaimer: "Tarkista tärkeät tiedot lähteistä.",
    },
    sv: {
      title: "Fråga om samarbetet",
      subtitle: "Svar med källor ur Kommunförbundets material",
      open: "Öppna Kysy-chatten",
      close: "Stäng Kysy-chatten",
      newConversation: "Ny konversation",
      log: "Konversation",
      inputLabel: "Skriv din fråga",
      placeholder: "Skriv en fråga…",
      send: "Skicka frågan",
      welcome: "Hej! Jag svarar på frågor om samarbetet mellan kommuner och välfärdsområden och visar i vilket material svaret finns.",
      suggestions: "Exempelfrågor",
      starters: [
        "Vem finansierar projektet om samarbetsytor?",
        "Hur stort är befolkningsunderlaget i Södra Karelen?",
        "Hur arbetar man i regionpiloterna?",
      ],
      you: "Du",
      assistant: "Kysy",
      thinking: "Söker svar i materialet…",
      sources: "Källor",
      source: "Källa",
      page: "sida",
      slide: "bild",
      opensNewTab: "öppnas i en ny flik",
      notFound: "Inget svar hittades i materialet",
      partial: "Delvis svar: materialet anger inte säkert den efterfrågade uppgiften",
      helpful: "Var svaret till hjälp?",
      up: "Användbart svar",
      down: "Inte användbart svar",
      thanks: "Tack för din respons!",
      feedbackFailed: "Det gick inte att skicka responsen.",
      copy: "Kopiera svaret med källor",
      copied: "Svaret kopierat med källor.",
      copyFailed: "Det gick inte att kopiera.",
      commentLabel: "Vad var fel med svaret? (frivilligt)",
      commentSend: "Skicka kommentaren",
      commentSent: "Tack, kommentaren har skickats!",
      retry: "Försök igen",
      offline: "Ingen anslutning till tjänsten. Kontrollera nätverket och försök igen.",
      timeout: "Tjänsten svarade inte i tid. Försök igen.",
      rateLimited: (s) => `För många frågor på kort tid. Du kan fråga igen om ${s} sekunder.`,
      rateLimitedNow: "För många frågor på kort tid. Du kan nu försöka igen.",
      busy: "Tjänsten är överbelastad just nu. Försök igen om en stund.",
      serverError: "Ett fel uppstod i tjänsten. Försök igen.",
      tooLong: "Frågan är för lång. Förkorta den och skicka igen.",
      atLimit: "En fråga får ha högst {n} tecken; av en längre text tas resten inte med.",
      invalid: "Frågan kunde inte behandlas. Ändra den och skicka igen.",
      disclaimer: "Kontrollera viktiga uppgifter i källorna.",
    },
    en: {
      title: "Ask about cooperation",
      subtitle: "Answers with sources from Kuntaliitto's materials",
      open: "Open the Kysy chat",
      close: "Close the Kysy chat",
      newConversation: "New conversation",
      log: "Conversation",
      inputLabel: "Type your question",
      placeholder: "Type a question…",
      send: "Send the question",
      welcome: "Hello! I answer questions about cooperation between municipalities and wellbeing services counties and show where each answer comes from.",
      suggestions: "Example questions",
      starters: [
        "Who funds the interface project?",
        "What is the population base of South Karelia?",
        "How do the regional pilots work?",
      ],
      you: "You",
      assistant: "Kysy",
      thinking: "Searching the materials…",
      sources: "Sources",
      source: "Source",
      page: "page",
      slide: "slide",
      opensNewTab: "opens in a new tab",
      notFound: "No answer was found in the materials",
      partial: "Partial answer: the materials do not clearly give the fact asked for",
      helpful: "Was this answer helpful?",
      up: "Helpful answer",
      down: "Not a helpful answer",
      thanks: "Thank you for your feedback!",
      feedbackFailed: "Sending the feedback failed.",
      copy: "Copy the answer with its sources",
      copied: "Answer copied with its sources.",
      copyFailed: "Copying failed.",
      commentLabel: "What was wrong with the answer? (optional)",
      commentSend: "Send the comment",
      commentSent: "Thank you, the comment was sent!",
      retry: "Try again",
      offline: "Could not reach the service. Check your connection and try again.",
      timeout: "The service did not answer in time. Please try again.",
      rateLimited: (s) => `Too many questions in a short time. You can ask again in ${s} seconds.`,
      rateLimitedNow: "Too many questions in a short time. You can try again now.",
      busy: "The service is busy right now. Please try again in a moment.",
      serverError: "Something went wrong in the service. Please try again.",
      tooLong: "The question is too long. Shorten it and send it again.",
      atLimit: "A question holds at most {n} characters; the rest of a longer text is left out.",
      invalid: "The question could not be processed. Edit it and send it again.",
      disclaimer: "Check important facts in the sources.",
    },
  };

  const DEFAULT_ACCENT = "#0055a0";
  // Seconds of silence before a question fails: a hung or stopped server sends nothing, a live one streams tokens.
  const DEFAULT_TIMEOUT_S = 60;
  // Until the server's own limits arrive from /api/config.
  const DEFAULT_LIMITS = { maxHistoryTurns: 20, maxHistoryMessageChars: 2000 };
  // Turns kept in the tab's storage (and shown again after a reload).
  const MAX_STORED_TURNS = 50;
  // not_found replies that are no failed search: small talk, nothing more after "tell me more", nothing later
  // (earlier) than the sources quoted after "what happened after that?"
  const QUIET_REFUSALS = ["smalltalk", "no_more", "no_later", "no_earlier"];
  const STORE_KEY = "kysy-conversation";
  const SLIDE_FILES = /\.(pptx?|odp|key)$/i;
  // Quotes and titles keep their source's language whatever the answer's: a citation's `language`, else Finnish,
  // the bundled materials' (the server's note says so too).
  const SOURCE_LANG = "fi";
  const LANG_TAG = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i;
  const LIST_ITEM = /^\s*[-*•]\s+(.*)$/;
  const CITED = /\[\d{1,3}\]/;
  // A slash between letters ("foorumit/verkostot"), after which browsers do not wrap by themselves (no
  // lookbehind: Safari before 16.4 would refuse the whole script).
  const SLASH_BREAK = /\p{L}\/(?=\p{L})/gu;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
    send: "M3 20.5V14l9-2-9-2V3.5L22 12z",
    refresh: "M12 5V2L7 6l5 4V7a5 5 0 1 1-5 5H5a7 7 0 1 0 7-7z",
    up: "M2 21h4V9H2zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3a1.5 1.5 0 0 0-.5-1.1L13.2 1 6.6 7.6A2 2 0 0 0 6 9v10a2 2 0 0 0 2 2h9a2 2 0 0 0 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7z",
    down: "M22 3h-4v12h4zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.5 1.1l1 1 6.6-6.6A2 2 0 0 0 18 15V5a2 2 0 0 0-2-2H7a2 2 0 0 0-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7z",
    link: "M14 3h7v7h-2V6.4l-9.3 9.3-1.4-1.4L17.6 5H14zM5 5h6v2H5v12h12v-6h2v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z",
    copy: "M16 1H4a2 2 0 0 0-2 2v14h2V3h12zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11z",
  };

  /** Make an element; attrs holds attributes, "class" and "text" (always set as textContent). */
  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "icon");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  /** Relative luminance of an sRGB colour given as [r, g, b] in 0..255 (WCAG 2.1). */
  function luminance(rgb) {
    const [r, g, b] = rgb.map((c) => {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  /** The accent colour to use: the given one if it is an opaque colour white text can sit on. */
  function pickAccent(value) {
    if (!value || typeof CSS === "undefined" || !CSS.supports("color", value)) return DEFAULT_ACCENT;
    const ctx = document.createElement("canvas").getContext("2d");
    if (!ctx) return DEFAULT_ACCENT;
    ctx.fillStyle = "#000000";
    ctx.fillStyle = value;
    const hex = String(ctx.fillStyle);
    const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!match) return DEFAULT_ACCENT; // translucent or not understood
    const rgb = match.slice(1).map((h) => parseInt(h, 16));
    const ratio = 1.05 / (luminance(rgb) + 0.05);
    return ratio >= 4.5 ? hex : DEFAULT_ACCENT;
  }

  /** An http(s) URL for a citation, or null: paths resolve against the API base, nothing else links. */
  function safeUrl(raw, api) {
    if (typeof raw !== "string" || raw === "") return null;
    let url;
    try {
      url = raw.startsWith("/") && !raw.startsWith("//") ? new URL(api + raw) : new URL(raw);
    } catch {
      return null;
    }
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  }

  /** Seconds to wait from a Retry-After header (seconds or an HTTP date), at least 1. */
  function retryAfterSeconds(header) {
    if (!header) return 30;
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
    const date = Date.parse(header);
    return Number.isNaN(date) ? 30 : Math.max(1, Math.ceil((date - Date.now()) / 1000));
  }

  /** Server-Sent Events from a fetch Response, as {event, data} objects; `onData` hears of every read. */
  async function* sseEvents(response, signal, onData) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let event = "message";
    let data = [];
    const line = (text) => {
      if (text === "") {
        const out = data.length ? { event, data: data.join("\n") } : null;
        event = "message";
        data = [];
        return out;
      }
      if (text.startsWith(":")) return null;
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value || "message";
      else if (field === "data") data.push(value);
      return null;
    };
    for (;;) {
      if (signal.aborted) return;
      const { value, done } = await reader.read();
      onData();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // A lone trailing "\r" may be the first half of "\r\n": wait for the next chunk.
      const end = done ? buffer.length : buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      const lines = buffer.slice(0, end).split(/\r\n|\r|\n/);
      buffer = lines.pop() + buffer.slice(end);
      if (done && buffer) lines.push(buffer, "");
      for (const text of lines) {
        const out = line(text);
        if (out) yield out;
      }
      if (done) return;
    }
  }

  /** Add inline text to `parent`, turning [n] markers with a known citation into links. */
  function appendInline(parent, text, makeMarker) {
    const parts = text.split(/(\[\d{1,3}\])/);
    for (const part of parts) {
      const m = /^\[(\d{1,3})\]$/.exec(part);
      const marker = m && makeMarker ? makeMarker(Number(m[1])) : null;
      if (marker) parent.append(marker);
      else appendBreakable(parent, part);
    }
  }

  /** Add text to `parent` with a line break opportunity (<wbr>) after each slash between words, so that
   * "yhteistyöfoorumit/verkostot/työryhmät" wraps at a slash rather than inside a word; returns `parent`. */
  function appendBreakable(parent, text) {
    let start = 0;
    for (const match of text.matchAll(SLASH_BREAK)) {
      const end = match.index + match[0].length;
      parent.append(document.createTextNode(text.slice(start, end)), el("wbr"));
      start = end;
    }
    parent.append(document.createTextNode(text.slice(start)));
    return parent;
  }

  /** Render answer text as paragraphs, line breaks and "- " list items; never as HTML or Markdown.
   * With `quoteLang` (a source's number -> its language), the lines that quote a source are marked as being in
   * the language of the source they cite (a heading over a quoted list, in its first item's). */
  function renderText(container, text, makeMarker, quoteLang) {
    container.replaceChildren();
    let para = null;
    let list = null;
    const lines = text.split("\n");
    lines.forEach((raw, i) => {
      const item = LIST_ITEM.exec(raw);
      const lang = quoteLang && quoteLine(lines, i) ? quoteLang(citedNumber(raw) || citedNumber(lines[i + 1])) : null;
      if (item) {
        para = null;
        if (!list) container.append((list = el("ul")));
        const li = el("li", { lang });
        appendInline(li, item[1], makeMarker);
        list.append(li);
      } else if (raw.trim() === "") {
        para = null;
        list = null;
      } else {
        list = null;
        if (para) para.append(el("br"));
        else container.append((para = el("p")));
        const line = lang ? el("span", { lang }) : para;
        appendInline(line, raw, makeMarker);
        if (line !== para) para.append(line);
      }
    });
  }

  /** The nearest topics a "not found" answer names (`meta.suggestions`), as strings. */
  function suggestedTopics(done) {
    const topics = done.meta && Array.isArray(done.meta.suggestions) ? done.meta.suggestions : [];
    return topics.filter((topic) => typeof topic === "string" && topic.trim()).map((topic) => topic.trim()).slice(0, 3);
  }

  /** In a quoting answer a line with [n] is a quote, and so is a source's heading ("Tausta:") over a quoted line;
   * the first line is the answer's own lead-in ("According to the materials:"). */
  function quoteLine(lines, i) {
    const next = lines[i + 1] || "";
    return CITED.test(lines[i]) || (i > 0 && /:\s*$/.test(lines[i]) && CITED.test(next));
  }

  /** The number of the first source a line cites ("... [2]" -> 2), or 0. */
  function citedNumber(line) {
    const found = CITED.exec(line || "");
    return found ? Number(found[0].slice(1, -1)) : 0;
  }

  /** A citation's language as the server gives it, else the materials' own. */
  function sourceLang(citation) {
    return citation && typeof citation.language === "string" && LANG_TAG.test(citation.language)
      ? citation.language : SOURCE_LANG;
  }

  /** What a source card shows after the title: the document's year and the page, slide or section. */
  function sourceMeta(t, citation) {
    const year = Number.isInteger(citation.year) && citation.year > 0 ? String(citation.year) : "";
    return [year, pageLabel(t, citation)].filter(Boolean).join(", ");
  }

  function pageLabel(t, citation) {
    if (typeof citation.label === "string" && citation.label) return citation.label; // the server decides
    if (citation.page === null || citation.page === undefined) return "";
    const word = SLIDE_FILES.test(citation.file || "") ? t.slide : t.page;
    return `${word} ${citation.page}`;
  }

  /** Read the embedding script tag's attributes into a configuration. */
  function readConfig(script) {
    const src = script && script.src ? script.src : location.href;
    const attr = (name) => (script ? (script.getAttribute(name) || "").trim() : "");
    const apiAttr = attr("data-kysy-api");
    let api;
    try {
      api = apiAttr ? new URL(apiAttr, src).href : new URL(src).origin;
    } catch {
      api = location.origin;
    }
    api = api.replace(/\/+$/, "");
    const lang = Object.prototype.hasOwnProperty.call(STRINGS, attr("data-lang")) ? attr("data-lang") : "fi";
    const t = STRINGS[lang];
    const target = attr("data-target");
    const timeout = Number(attr("data-timeout"));
    return {
      api,
      lang,
      t,
      title: attr("data-title") || t.title,
      accent: pickAccent(attr("data-accent")),
      customAccent: attr("data-accent") !== "",
      left: attr("data-position") === "bottom-left",
      target: target.startsWith("#") ? document.getElementById(target.slice(1)) : null,
      timeoutMs: (timeout > 0 ? timeout : DEFAULT_TIMEOUT_S) * 1000,
    };
  }

  /** A failure a user can act on: offline, timeout, rate, busy, server, tooLong, invalid. */
  class ChatError extends Error {
    constructor(kind, seconds = 0) {
      super(kind);
      this.kind = kind;
      this.seconds = seconds;
    }
  }

  function errorForResponse(response) {
    if (response.status === 429) return new ChatError("rate", retryAfterSeconds(response.headers.get("Retry-After")));
    if (response.status === 503) return new ChatError("busy");
    if (response.status === 413) return new ChatError("tooLong");
    if (response.status === 422 || response.status === 400) return new ChatError("invalid");
    return new ChatError("server");
  }

  function parseJson(data) {
    try {
      const value = JSON.parse(data);
      if (value && typeof value === "object") return value;
    } catch {
      /* fall through */
    }
    throw new ChatError("server");
  }

  const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  /** The conversation kept in this tab, oldest first: [{question, answer, citations, notFound, status, language, mode,
   * topics}],
   * and what the user did to an answer: `rating` ("up" | "down") and `draft`, a comment typed but not yet sent. */
  class ConversationStore {
    constructor(api) {
      this.key = `${STORE_KEY}:${api}`;
    }

    load() {
      try {
        const value = JSON.parse(sessionStorage.getItem(this.key) || "null");
        if (!value || !Array.isArray(value.turns)) return { turns: [], open: false };
        const turns = value.turns.filter((turn) => turn && typeof turn.question === "string" && typeof turn.answer === "string");
        return { turns: turns.slice(-MAX_STORED_TURNS), open: value.open === true };
      } catch {
        return { turns: [], open: false }; // storage blocked or unreadable: start afresh
      }
    }

    save(turns, open) {
      try {
        sessionStorage.setItem(this.key, JSON.stringify({ turns: turns.slice(-MAX_STORED_TURNS), open }));
      } catch {
        /* storage full or blocked: the conversation still works, it is only not kept */
      }
    }

    clear() {
      try {
        sessionStorage.removeItem(this.key);
      } catch {
        /* nothing kept */
      }
    }
  }

  /** The history sent with a question: the last turns' messages, each cut to the server's size limit. */
  function boundedHistory(turns, limits) {
    const cut = (text) => text.slice(0, limits.maxHistoryMessageChars);
    return turns
      .flatMap((turn) => [{ role: "user", content: cut(turn.question) }, { role: "assistant", content: cut(turn.answer) }])
      .slice(-limits.maxHistoryTurns);
  }

  /** One chat widget: a launcher and a panel (floating), or a panel inside a page element (inline). */
  class Widget {
    constructor(cfg) {
      this.cfg = cfg;
      this.t = cfg.t;
      this.floating = !cfg.target;
      this.store = new ConversationStore(cfg.api);
      this.limits = { ...DEFAULT_LIMITS };
      const kept = this.store.load();
      this.turns = kept.turns;
      this.busy = false;
      this.controller = null;
      this.failed = null; // the last failed attempt on display: {turn, box, edit}
      this.timers = new Set();
      this.seq = 0;
      this.build();
      this.bind();
      (this.floating ? document.body : cfg.target).append(this.host);
      this.loadLimits();
      if (this.turns.length) this.restore();
      else if (!this.floating) this.showWelcome();
      if (this.floating && kept.open) this.open(); // focused once the styles have come (reveal, in build)
    }

    async loadLimits() {
      try {
        const response = await fetch(`${this.cfg.api}/api/config`, { credentials: "omit" });
        if (!response.ok) return;
        const config = await response.json();
        const whole = (value, fallback) => (Number.isInteger(value) && value >= 0 ? value : fallback);
        const questionChars = whole(config.max_question_chars, 0);
        if (questionChars > 0) this.input.maxLength = questionChars;
        this.limits = {
          maxHistoryTurns: whole(config.max_history_turns, DEFAULT_LIMITS.maxHistoryTurns),
          maxHistoryMessageChars: whole(config.max_history_message_chars, DEFAULT_LIMITS.maxHistoryMessageChars),
        };
      } catch {
        this.warnCrossOrigin(); // and keep the defaults
      }
    }

    /** For the integrator: a request to another origin that fails outright may have been refused by CORS, which a
     * page cannot tell from a network failure (the user sees "offline"); say once, in the console, what allows it. */
    warnCrossOrigin() {
      const api = new URL(this.cfg.api || "/", window.location.href).origin;
      const page = window.location.origin;
      if (this.warnedCrossOrigin || api === page) return;
      this.warnedCrossOrigin = true;
      console.warn(`Kysy: ${api} could not be reached from ${page}. If the service is running, its ` +
        `KYSY_CORS_ORIGINS must list ${page}.`);
    }

    /** Show the kept conversation again (after a reload or on another page of the site). */
    restore() {
      for (const turn of this.turns) {
        this.showQuestion(turn.question);
        const view = this.addAnswer();
        view.thinking.remove();
        view.msg.setAttribute("aria-busy", "false");
        view.kept = turn;
        this.render(view, turn.question, {
          answer: turn.answer, citations: turn.citations, not_found: turn.notFound, status: turn.status,
          language: turn.language, mode: turn.mode, meta: { suggestions: turn.topics },
        });
        this.restoreFeedback(view, turn);
      }
      this.scrollToEnd(true);
    }

    /** Show again what the user did to a kept answer: the thumb pressed, and a comment not sent yet. */
    restoreFeedback(view, turn) {
      if (turn.rating === "up" || turn.rating === "down") {
        view.msg.querySelector(`[data-kysy="feedback-${turn.rating}"]`).setAttribute("aria-pressed", "true");
      }
      if (typeof turn.draft === "string") this.addComment(view, turn.question, turn.answer, { draft: turn.draft, restored: true });
    }

    /** Keep a change to an answer's turn (its rating, an unsent comment) in the tab's storage. */
    keep(view, change) {
      const kept = { ...view.kept, ...change };
      this.turns = this.turns.map((turn) => (turn === view.kept ? kept : turn));
      view.kept = kept;
      this.save();
    }

    save() {
      this.store.save(this.turns, this.floating ? !this.panel.hidden : false);
    }

    build() {
      const { t, cfg } = this;
      this.host = el("div", { class: this.floating ? "kysy-widget" : "kysy-widget kysy-inline", "data-kysy": "widget" });
      this.shadow = this.host.attachShadow({ mode: "open" });
      const css = el("link", { rel: "stylesheet", href: `${cfg.api}/widget.css` });
      const classes = ["kysy", this.floating ? "floating" : "inline", cfg.left ? "left" : ""];
      this.root = el("div", { class: classes.join(" ").trim(), lang: cfg.lang, hidden: true });
      const reveal = () => {
        if (!this.root.hidden) return;
        this.root.hidden = false;
        if (this.panel.hidden) return;
        // A conversation restored while hidden could not be scrolled, nor a dialog restored open take the focus.
        this.scrollToEnd(true);
        if (this.floating) this.input.focus();
      };
      css.addEventListener("load", reveal);
      css.addEventListener("error", reveal);
      setTimeout(reveal, 3000);
      if (cfg.customAccent) this.root.style.setProperty("--kysy-accent", cfg.accent);

      this.newButton = this.iconButton("refresh", t.newConversation, "new-conversation");
      const tools = [this.newButton];
      if (this.floating) tools.push((this.closeButton = this.iconButton("close", t.close, "close")));
      const header = el("div", { class: "header" }, [
        el("div", { class: "heading" }, [
          el("h2", { class: "title", id: "kysy-title", text: cfg.title }),
          el("p", { class: "subtitle", text: t.subtitle }),
        ]),
        el("div", { class: "tools" }, tools),
      ]);
      this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t.log, tabindex: "0" });
      this.input = el("textarea", {
        id: "kysy-input", class: "input", rows: "1", maxlength: "2000", placeholder: t.placeholder,
        "data-kysy": "input", autocomplete: "off", enterkeyhint: "send",
      });
      this.sendButton = el("button", { type: "submit", class: "send", "data-kysy": "send", "aria-label": t.send, title: t.send }, [icon("send")]);
      this.form = el("form", { class: "composer" }, [
        el("label", { for: "kysy-input", class: "visually-hidden", text: t.inputLabel }), this.input, this.sendButton,
      ]);
      // Said when a typed or pasted question reaches the input's length limit (the browser drops the rest).
      this.limitNote = el("p", { class: "limit-note", "data-kysy": "limit-note", role: "status", hidden: true });
      this.panel = el("div", {
        class: "panel", id: "kysy-panel", role: this.floating ? "dialog" : "region",
        "aria-modal": this.floating ? "true" : null, "aria-labelledby": "kysy-title", hidden: this.floating,
      }, [header, this.log, this.form, this.limitNote, el("p", { class: "disclaimer", text: t.disclaimer })]);
      if (this.floating) {
        this.launcher = el("button", {
          type: "button", class: "launcher", "data-kysy": "launcher", "aria-label": t.open,
          "aria-expanded": "false", "aria-controls": "kysy-panel", "aria-haspopup": "dialog",
        }, [icon("chat"), icon("close"), el("span", { class: "launcher-text", text: "Kysy", "aria-hidden": "true" })]);
        this.root.append(this.panel, this.launcher);
      } else {
        this.root.append(this.panel);
      }
      this.shadow.append(css, this.root);
    }

    iconButton(name, label, hook) {
      return el("button", { type: "button", class: "icon-button", "data-kysy": hook, "aria-label": label, title: label }, [icon(name)]);
    }

    bind() {
      this.form.addEventListener("submit", (e) => {
        e.preventDefault();
        this.ask(this.input.value);
      });
      this.input.addEventListener("input", () => this.showLimit());
      this.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.ask(this.input.value);
        }
      });
      this.newButton.addEventListener("click", () => this.reset());
      if (!this.floating) return;
      this.launcher.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
      this.closeButton.addEventListener("click", () => this.close());
      this.root.addEventListener("keydown", (e) => {
        if (this.panel.hidden) return;
        if (e.key === "Escape") {
          e.preventDefault();
          this.close();
        } else if (e.key === "Tab") {
          this.trapFocus(e);
        }
      });
    }

    /** Say so when the question fills the input's limit: a longer paste was cut there. */
    showLimit() {
      const limit = this.input.maxLength;
      const full = limit > 0 && this.input.value.length >= limit;
      this.limitNote.hidden = !full;
      this.limitNote.textContent = full ? this.t.atLimit.replace("{n}", String(limit)) : "";
    }

    open() {
      this.panel.hidden = false;
      this.root.classList.add("open");
      this.launcher.setAttribute("aria-expanded", "true");
      this.launcher.setAttribute("aria-label", this.t.close);
      if (!this.log.firstChild) this.showWelcome();
      this.store.save(this.turns, true);
      this.scrollToEnd(true);
      this.input.focus();
    }

    close() {
      this.panel.hidden = true;
      this.root.classList.remove("open");
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.setAttribute("aria-label", this.t.open);
      this.store.save(this.turns, false);
      this.launcher.focus();
    }

    trapFocus(e) {
      const items = [...this.panel.querySelectorAll("button, [href], textarea, [tabindex]:not([tabindex='-1'])")]
        .filter((n) => !n.disabled && n.getClientRects().length > 0);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      const active = this.shadow.activeElement;
      const inside = active && this.panel.contains(active);
      if (e.shiftKey && (!inside || active === first)) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (!inside || active === last)) {
        e.preventDefault();
        first.focus();
      }
    }

    showWelcome() {
      const { t } = this;
      const starters = el("ul", { class: "starters", "aria-labelledby": "kysy-starters" });
      for (const question of t.starters) starters.append(el("li", {}, [this.askButton(question, "starter")]));
      this.welcome = el("div", { class: "welcome" }, [
        el("p", { class: "welcome-text", text: t.welcome }),
        el("p", { class: "starters-title", id: "kysy-starters", text: t.suggestions }),
        starters,
      ]);
      this.log.append(this.welcome);
    }

    reset() {
      if (this.controller) this.controller.abort();
      this.controller = null;
      this.setBusy(false, null);
      for (const timer of this.timers) clearInterval(timer);
      this.timers.clear();
      this.turns = [];
      this.failed = null;
      this.store.clear();
      this.log.replaceChildren();
      this.showWelcome();
      this.input.value = "";
      this.input.focus();
    }

    setBusy(busy, view) {
      this.busy = busy;
      this.log.setAttribute("aria-busy", String(busy));
      this.sendButton.setAttribute("aria-disabled", String(busy));
      if (view) view.msg.setAttribute("aria-busy", String(busy));
    }

    scrollToEnd(force) {
      const log = this.log;
      if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 120) log.scrollTop = log.scrollHeight;
    }

    ask(raw) {
      const question = String(raw || "").trim();
      if (!question || this.busy) return;
      this.input.value = "";
      this.retire(question);
      const bubble = this.showQuestion(question);
      this.run({ question, history: boundedHistory(this.turns, this.limits), bubble });
    }

    /** A new question ends the last failed attempt: asked again (or edited), it goes; else only its retry does. */
    retire(question) {
      const failed = this.failed;
      this.failed = null;
      if (!failed) return;
      if (failed.edit || failed.turn.question === question) {
        failed.turn.bubble.remove();
        failed.box.remove();
      } else {
        const retry = failed.box.querySelector(".retry");
        if (retry) retry.remove();
      }
    }

    showQuestion(question) {
      if (this.welcome) this.welcome.remove();
      this.welcome = null;
      const bubble = el("div", { class: "msg user" }, [
        el("span", { class: "visually-hidden", text: `${this.t.you}: ` }),
        el("p", { class: "bubble", text: question }),
      ]);
      this.log.append(bubble);
      return bubble;
    }

    /** Ask the server; `replace` is the failed attempt's error that this try takes the place of. */
    async run(turn, replace) {
      const view = this.addAnswer(replace);
      const controller = new AbortController();
      this.controller = controller;
      let idle = 0;
      const wait = () => {
        clearTimeout(idle);
        idle = setTimeout(() => controller.abort("timeout"), this.cfg.timeoutMs);
      };
      this.setBusy(true, view);
      this.scrollToEnd(true);
      try {
        wait();
        const done = await this.stream(turn, view, controller.signal, wait);
        this.finish(turn, view, done);
      } catch (err) {
        const { aborted, reason } = controller.signal;
        if (reason === "timeout") this.fail(turn, view, new ChatError("timeout"));
        else if (!aborted) this.fail(turn, view, err);
      } finally {
        clearTimeout(idle);
        if (this.controller === controller) {
          this.controller = null;
          this.setBusy(false, view);
        }
      }
    }

    addAnswer(replace) {
      const id = ++this.seq;
      const text = el("div", { class: "answer-text" });
      const thinking = el("p", { class: "thinking" }, [
        el("span", { text: this.t.thinking }), el("span", { class: "dots", "aria-hidden": "true" }),
      ]);
      const bubble = el("div", { class: "bubble" }, [thinking, text]);
      const msg = el("div", { class: "msg assistant", "data-kysy": "answer" }, [
        el("span", { class: "visually-hidden", text: `${this.t.assistant}: ` }), bubble,
      ]);
      if (replace) replace.replaceWith(msg);
      else this.log.append(msg);
      return { id, msg, bubble, text, thinking, frame: 0, pending: "" };
    }

    /** The answer's final `done` payload; `onData` is called whenever the server sends anything. */
    async stream(turn, view, signal, onData) {
      let response;
      try {
        response = await fetch(`${this.cfg.api}/api/chat`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify({ question: turn.question, history: turn.history }),
          credentials: "omit",
          signal,
        });
      } catch (err) {
        if (signal.aborted) throw err;
        this.warnCrossOrigin();
        throw new ChatError("offline");
      }
      onData();
      if (!response.ok || !response.body) throw errorForResponse(response);
      let text = "";
      try {
        for await (const { event, data } of sseEvents(response, signal, onData)) {
          if (event === "token") {
            const piece = parseJson(data).text;
            if (typeof piece === "string") text += piece;
            this.showPartial(view, text);
          } else if (event === "done") {
            return parseJson(data);
          } else if (event === "error") {
            throw new ChatError("server");
          }
        }
      } catch (err) {
        throw err instanceof ChatError || signal.aborted ? err : new ChatError("offline");
      }
      throw new ChatError("server"); // the stream ended without a final answer
    }

    showPartial(view, text) {
      view.pending = text;
      if (view.frame) return;
      view.frame = requestAnimationFrame(() => {
        view.frame = 0;
        view.thinking.remove();
        renderText(view.text, view.pending, null);
        const holder = view.text.lastElementChild || view.text;
        (holder.tagName === "UL" ? holder.lastElementChild : holder).append(el("span", { class: "caret", "aria-hidden": "true" }));
        this.scrollToEnd(false);
      });
    }

    finish(turn, view, done) {
      cancelAnimationFrame(view.frame);
      view.thinking.remove();
      const shown = this.render(view, turn.question, done);
      view.kept = { question: turn.question, ...shown };
      this.turns = [...this.turns, view.kept].slice(-MAX_STORED_TURNS);
      this.save();
      this.scrollToEnd(false);
    }

    /** Show an answer (text, sources, not-found label, feedback); returns what is kept of it. */
    render(view, question, done) {
      const answer = typeof done.answer === "string" ? done.answer : "";
      const citations = (Array.isArray(done.citations) ? done.citations : [])
        .filter((c) => c && Number.isInteger(c.n) && c.n > 0);
      // The answer speaks the question's language, which need not be the interface's.
      const language = typeof done.language === "string" && LANG_TAG.test(done.language) ? done.language : null;
      const mode = done.mode === "extractive" ? "extractive" : null;
      const cards = this.renderSources(view, citations, language);
      if (language) view.text.setAttribute("lang", language);
      // A quoting answer's quotes are the materials' own words; a generated one says everything in its language.
      const byNumber = new Map(citations.map((c) => [c.n, c]));
      renderText(view.text, answer, (n) => this.marker(n, cards), mode ? (n) => sourceLang(byNumber.get(n)) : null);
      const status = done.status === "partial" ? "partial" : done.not_found ? "not_found" : "answered";
      if (status === "partial") {
        view.msg.classList.add("partial");
        view.bubble.prepend(el("p", { class: "partial-label", "data-kysy": "partial", text: this.t.partial }));
      } else if (status === "not_found" && !(done.meta && QUIET_REFUSALS.includes(done.meta.refusal))) {
        // a reply to thanks or a greeting, "nothing more" after "tell me more" or "nothing later", is no failed search
        view.msg.classList.add("not-found");
        view.bubble.prepend(el("p", { class: "not-found-label", text: this.t.notFound }));
      }
      const topics = status === "not_found" ? suggestedTopics(done) : [];
      this.offerTopics(view.text, topics);
      this.addFeedback(view, question, answer);
      this.addCopy(view, answer, citations);
      return { answer, citations, notFound: status !== "answered", status, language, mode, topics };
    }

    /** A button that asks `question` (an example question, a topic), with the focus back in the input. */
    askButton(question, kind) {
      const button = el("button", { type: "button", class: kind, "data-kysy": kind, text: question });
      button.addEventListener("click", () => {
        this.ask(question);
        this.input.focus();
      });
      return button;
    }

    /** The topics a "not found" answer lists become buttons that ask about them. */
    offerTopics(container, topics) {
      if (!topics.length) return;
      for (const li of container.querySelectorAll("li")) {
        const topic = li.textContent.trim();
        if (!topics.includes(topic)) continue;
        li.replaceChildren(this.askButton(topic, "topic"));
        li.parentElement.classList.add("topics");
      }
    }

    renderSources(view, citations, language) {
      const { t } = this;
      const cards = new Map();
      if (!citations.length) return cards;
      const list = el("ol", { class: "sources-list" });
      for (const c of citations) {
        const url = safeUrl(c.url, this.cfg.api);
        const titled = typeof c.title === "string" && c.title !== "";
        const title = titled ? c.title : String(c.file || t.source);
        const meta = sourceMeta(t, c);
        const labelled = typeof c.label === "string" && c.label !== ""; // in the answer's language, as the server writes it
        const body = [
          el("span", { class: "source-num", text: String(c.n), "aria-hidden": "true" }),
          el("span", { class: "source-main" }, [
            el("span", { class: "visually-hidden", text: `${t.source} ${c.n}: ` }),
            el("span", { class: "source-title", text: title, title, lang: titled && sourceLang(c) }),
            meta ? el("span", { class: "source-page", text: meta, lang: labelled && language }) : null,
            typeof c.quote === "string" && c.quote
              ? appendBreakable(el("span", { class: "source-quote", lang: sourceLang(c) }), `”${c.quote}”`) : null,
            url ? el("span", { class: "visually-hidden", text: ` (${t.opensNewTab})` }) : null,
          ]),
          url ? icon("link") : null,
        ];
        const id = `kysy-source-${view.id}-${c.n}`;
        const card = url
          ? el("a", { class: "source", id, href: url, target: "_blank", rel: "noopener noreferrer", "data-kysy": "citation" }, body)
          : el("div", { class: "source", id, tabindex: "-1", "data-kysy": "citation" }, body);
        list.append(el("li", {}, [card]));
        cards.set(c.n, { card, url, label: `${t.source} ${c.n}: ${title}${meta ? `, ${meta}` : ""}` });
      }
      view.msg.append(el("div", { class: "sources" }, [el("h3", { class: "sources-title", text: t.sources }), list]));
      return cards;
    }

    marker(n, cards) {
      const entry = cards.get(n);
      if (!entry) return null;
      // The marker's name is in the interface's words, also within a quote.
      const attrs = { class: "cite", lang: this.cfg.lang, "aria-label": entry.label, title: entry.label, "data-kysy": "cite" };
      const marker = entry.url
        ? el("a", { ...attrs, href: entry.url, target: "_blank", rel: "noopener noreferrer" })
        : el("button", { ...attrs, type: "button" });
      marker.append(el("span", { class: "bracket", text: "[", "aria-hidden": "true" }), String(n),
        el("span", { class: "bracket", text: "]", "aria-hidden": "true" }));
      marker.addEventListener("click", (e) => {
        // A plain click shows the source card; ctrl/cmd/shift-click opens the document itself.
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        entry.card.scrollIntoView({ block: "nearest", behavior: reducedMotion() ? "auto" : "smooth" });
        entry.card.focus({ preventScroll: true });
        entry.card.classList.remove("flash");
        void entry.card.offsetWidth; // restart the highlight animation
        entry.card.classList.add("flash");
      });
      return marker;
    }

    addFeedback(view, question, answer) {
      const { t } = this;
      const status = el("span", { class: "feedback-status", role: "status" });
      const up = el("button", { type: "button", class: "thumb", "data-kysy": "feedback-up", "aria-pressed": "false", "aria-label": t.up, title: t.up }, [icon("up")]);
      const down = el("button", { type: "button", class: "thumb", "data-kysy": "feedback-down", "aria-pressed": "false", "aria-label": t.down, title: t.down }, [icon("down")]);
      const rate = async (rating, button, other) => {
        if (button.getAttribute("aria-pressed") === "true") return;
        button.setAttribute("aria-pressed", "true");
        other.setAttribute("aria-pressed", "false");
        status.textContent = "";
        try {
          const response = await fetch(`${this.cfg.api}/api/feedback`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ question, answer, rating }), // no comment: one, if any, follows on its own
            credentials: "omit",
          });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          status.textContent = t.thanks;
          this.keep(view, { rating });
        } catch {
          button.setAttribute("aria-pressed", "false");
          status.textContent = t.feedbackFailed;
        }
      };
      up.addEventListener("click", () => rate("up", up, down));
      down.addEventListener("click", async () => {
        await rate("down", down, up);
        if (down.getAttribute("aria-pressed") === "true") this.addComment(view, question, answer);
      });
      view.msg.append(el("div", { class: "feedback", role: "group", "aria-label": t.helpful }, [
        el("span", { class: "feedback-label", text: t.helpful, "aria-hidden": "true" }), up, down, status,
      ]));
    }

    /** A free-text comment after a thumbs down, sent as its own piece of feedback: Enter sends it, Shift+Enter
     * starts a new line. Until it is sent, what is typed is kept with the conversation (`draft`). */
    addComment(view, question, answer, { draft = "", restored = false } = {}) {
      const { t } = this;
      if (view.msg.querySelector(".comment")) return;
      const status = view.msg.querySelector(".feedback-status");
      const down = view.msg.querySelector('[data-kysy="feedback-down"]');
      const id = `kysy-comment-${view.id}`;
      const field = el("textarea", { id, rows: "2", maxlength: "2000", "data-kysy": "comment", enterkeyhint: "send" });
      field.value = draft;
      const send = el("button", { type: "button", class: "comment-send", "data-kysy": "comment-send", text: t.commentSend });
      const form = el("div", { class: "comment" }, [el("label", { for: id, text: t.commentLabel }), field, send]);
      const submit = async () => {
        const comment = field.value.trim();
        if (!comment) { field.focus(); return; }
        if (send.disabled) return; // already on its way
        send.disabled = true;
        try {
          const response = await fetch(`${this.cfg.api}/api/feedback`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ question, answer, rating: "down", comment }),
            credentials: "omit",
          });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          const focused = form.contains(this.shadow.activeElement);
          form.remove();
          this.keep(view, { draft: null });
          status.textContent = t.commentSent;
          if (focused) down.focus(); // the field is gone: not to the page behind the panel
        } catch {
          send.disabled = false;
          status.textContent = t.feedbackFailed;
        }
      };
      send.addEventListener("click", submit);
      field.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          submit();
        }
      });
      field.addEventListener("input", () => this.keep(view, { draft: field.value }));
      // The browser's own focus scroll may leave the field half under the composer in a short log:
      // show the whole form where it fits, and the field itself in any case.
      field.addEventListener("focus", () => {
        form.scrollIntoView({ block: "nearest" });
        field.scrollIntoView({ block: "nearest" });
      });
      view.msg.append(form);
      if (restored) return;
      this.keep(view, { draft });
      field.focus();
    }

    /** A button that copies the answer and its numbered sources as plain text. */
    addCopy(view, answer, citations) {
      const { t } = this;
      const group = view.msg.querySelector(".feedback");
      if (!group || !answer) return;
      const lines = citations.map((c) => {
        const meta = sourceMeta(t, c);
        const url = safeUrl(c.url, this.cfg.api);
        return `[${c.n}] ${c.title || c.file || t.source}${meta ? `, ${meta}` : ""}${url ? ` ${url}` : ""}`;
      });
      const text = lines.length ? `${answer}\n\n${t.sources}:\n${lines.join("\n")}` : answer;
      const status = group.querySelector(".feedback-status");
      const copy = el("button", { type: "button", class: "thumb copy", "data-kysy": "copy", "aria-label": t.copy, title: t.copy }, [icon("copy")]);
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(text);
          status.textContent = t.copied;
        } catch {
          status.textContent = t.copyFailed;
        }
      });
      group.insertBefore(copy, status);
    }

    fail(turn, view, err) {
      const { t } = this;
      const kind = err instanceof ChatError ? err.kind : "server";
      cancelAnimationFrame(view.frame);
      const messages = { offline: t.offline, timeout: t.timeout, busy: t.busy, server: t.serverError, tooLong: t.tooLong, invalid: t.invalid };
      const text = el("p", { class: "error-text", text: kind === "rate" ? t.rateLimited(err.seconds) : messages[kind] });
      const box = el("div", { class: `msg error error-${kind}`, role: "alert", "data-kysy": "error" }, [text]);
      view.msg.replaceWith(box); // in the attempt's place, so a retry never adds a second error
      const edit = kind === "tooLong" || kind === "invalid";
      this.failed = { turn, box, edit };
      this.scrollToEnd(true);
      if (edit) {
        this.input.value = turn.question; // let the user edit and resend
        return;
      }
      const retry = el("button", { type: "button", class: "retry", "data-kysy": "retry" }, [icon("refresh"), el("span", { text: t.retry })]);
      retry.addEventListener("click", () => {
        if (this.busy) return;
        this.failed = null;
        this.input.focus();
        this.run(turn, box);
      });
      box.append(retry);
      if (kind === "rate") this.waitBeforeRetry(retry, text, err.seconds);
    }

    waitBeforeRetry(retry, text, seconds) {
      retry.disabled = true;
      let left = seconds;
      const timer = setInterval(() => {
        left -= 1;
        if (left > 0) return;
        clearInterval(timer);
        this.timers.delete(timer);
        retry.disabled = false;
        if (retry.isConnected) text.textContent = this.t.rateLimitedNow;
      }, 1000);
      this.timers.add(timer);
    }
  }

  /** Start one widget for the script tag that loaded this file. */
  function start(script) {
    const cfg = readConfig(script);
    if (script && script.getAttribute("data-target") && !cfg.target) {
      console.warn("Kysy: data-target element not found; showing the floating chat instead.");
    }
    new Widget(cfg);
  }

  const scriptTag = document.currentScript || document.querySelector("script[data-kysy-api]");
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => start(scriptTag), { once: true });
  } else {
    start(scriptTag);
  }
})();
