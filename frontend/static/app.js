/* seedlab pages: the new-job form, live fragments and Plotly charts. No framework, no build. */
"use strict";

// State-changing calls carry the session's CSRF token (empty when the server needs no sign-in).
function csrfHeaders(headers) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta && meta.content ? { ...headers, "X-CSRF-Token": meta.content } : headers;
}

window.seedlab = (function () {
  const POLL_MS = 1500;
  // The modebar's "download as PNG" renders client-side (Plotly.toImage): it works offline.
  const PLOTLY_CONFIG = {
    responsive: true,
    displaylogo: false,
    displayModeBar: true,
    toImageButtonOptions: { format: "png", scale: 2 },
  };

  function chartConfig(filename) {
    return Object.assign({}, PLOTLY_CONFIG, {
      toImageButtonOptions: Object.assign({}, PLOTLY_CONFIG.toImageButtonOptions, { filename }),
    });
  }

  async function getJSON(url) {
    const resp = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!resp.ok) throw new Error(url + ": HTTP " + resp.status);
    return resp.json();
  }

  // Last HTML swapped into each element: identical fragments are skipped so hover, focus and
  // text selection survive a poll that brought nothing new.
  const lastHtml = new WeakMap();

  function swap(el, html) {
    if (!el || typeof html !== "string" || lastHtml.get(el) === html) return;
    const open = Array.from(el.querySelectorAll("details[open][id]"), (d) => d.id);
    el.innerHTML = html;
    lastHtml.set(el, html);
    for (const id of open) {
      const d = el.querySelector("#" + CSS.escape(id));
      if (d) d.open = true;
    }
  }

  // A live response's html maps fragment keys (pages/: JOB_FRAGMENTS, RUN_FRAGMENTS) to HTML; each
  // lands in the element marked data-fragment="key", when the page has one (the sequential plan
  // and the decomposition appear on their kinds of job only). A new fragment needs its key on
  // the server and a marked container in the template, nothing here.
  function swapFragments(root, html) {
    for (const [key, fragment] of Object.entries(html || {})) {
      swap(root.querySelector('[data-fragment="' + CSS.escape(key) + '"]'), fragment);
    }
  }

  // Calls onData with each response until it returns false; now() polls at once.
  function poller(url, onData) {
    let timer = null;
    let busy = false;
    let done = false;
    async function tick() {
      if (busy || done) return;
      busy = true;
      clearTimeout(timer);
      try {
        done = onData(await getJSON(url)) === false;
      } catch (err) {
        console.warn("seedlab: poll failed", err);
      }
      busy = false;
      if (!done) timer = setTimeout(tick, POLL_MS);
    }
    timer = setTimeout(tick, POLL_MS);
    return { now: tick };
  }

  /* ---------- new-job form ---------- */

  // Everything is looked up from a wrapper, never from the <form>: a form's named controls
  // shadow its own properties (a parameter called "dataset" would hide form.dataset).
  function newJobForm(root) {
    const form = root.querySelector("form");
    const experiment = root.querySelector("#experiment");
    const fieldsets = Array.from(root.querySelectorAll("fieldset.params"));
    const profile = root.querySelector("#profile");
    const presets = JSON.parse(profile.dataset.presets || "{}");
    const customise = root.querySelector("#customise");
    const toggles = root.querySelector("#toggles");
    const errorBox = root.querySelector("#form-errors");
    const submit = root.querySelector("#submit");

    const active = () => fieldsets.find((fs) => fs.dataset.experiment === experiment.value);

    function showExperiment() {
      for (const fs of fieldsets) {
        const on = fs.dataset.experiment === experiment.value;
        fs.hidden = !on;
        fs.disabled = !on; // disabled inputs are skipped when collecting
      }
      clearErrors();
    }

    function applyPreset() {
      const values = presets[profile.value] || {};
      for (const box of toggles.querySelectorAll("input[type=checkbox]")) {
        box.checked = Boolean(values[box.name]);
      }
    }

    function showToggles() {
      toggles.hidden = !customise.checked;
      toggles.disabled = !customise.checked;
    }

    function clearErrors() {
      errorBox.hidden = true;
      errorBox.replaceChildren();
      for (const el of root.querySelectorAll(".invalid")) el.classList.remove("invalid");
      for (const el of root.querySelectorAll(".field-error")) {
        el.hidden = true;
        el.textContent = "";
      }
    }

    function markField(path, rule) {
      const name = String(path).replace(/^(body\.)?(params\.)?/, "").split(".")[0];
      const scope = /^(body\.)?params\./.test(path) || !["seeds", "label", "profile", "experiment", "tolerance", "until", "max_seeds", "sweep_grid", "sweep_metric"].includes(name)
        ? active() : root;
      const field = scope && scope.querySelector('.field[data-field="' + CSS.escape(name) + '"]');
      if (!field) return null;
      const input = field.querySelector("input, select");
      if (input) input.classList.add("invalid");
      const msg = field.querySelector(".field-error");
      if (msg) {
        msg.textContent = rule;
        msg.hidden = false;
      }
      return input;
    }

    // Turns any error body the API gives (our {detail, errors} or FastAPI's 422 list) into
    // one headline and field/rule items.
    function showErrors(status, body) {
      let headline = "The server refused the job" + (status ? " (HTTP " + status + ")" : "") + ".";
      const items = [];
      if (body && typeof body.detail === "string") headline = body.detail;
      if (body && Array.isArray(body.detail)) {
        for (const e of body.detail) {
          const loc = (e.loc || []).filter((p) => p !== "body").join(".");
          items.push({ field: loc || "request", rule: e.msg || JSON.stringify(e) });
        }
      }
      if (body && Array.isArray(body.errors)) {
        for (const e of body.errors) items.push({ field: e.field || (Array.isArray(e.loc) ? e.loc.slice(1).join(".") : "params"), rule: e.rule || e.msg || "" });
      }
      // Seed-plan errors come as a sentence only; point at the seeds input all the same.
      if (!items.length && /until expression|until names/i.test(headline)) items.push({ field: "until", rule: headline, quiet: true });
      else if (!items.length && /seed plan|seeds must/i.test(headline)) items.push({ field: "seeds", rule: headline, quiet: true });
      else if (!items.length && /max_seeds/i.test(headline)) items.push({ field: "max_seeds", rule: headline, quiet: true });

      const head = document.createElement("strong");
      head.textContent = headline;
      errorBox.replaceChildren(head);
      const list = document.createElement("ul");
      let first = null;
      for (const item of items) {
        const input = markField(item.field, item.rule);
        first = first || input;
        if (item.quiet) continue;
        const li = document.createElement("li");
        const code = document.createElement("code");
        code.textContent = item.field;
        li.append(code, ": " + item.rule);
        list.append(li);
      }
      if (list.children.length) errorBox.append(list);
      errorBox.hidden = false;
      errorBox.scrollIntoView({ block: "nearest" });
      if (first) first.focus();
    }

    function collect() {
      const params = {};
      const problems = [];
      for (const input of active().querySelectorAll("[data-kind]")) {
        const kind = input.dataset.kind;
        const raw = input.value.trim();
        if (kind === "columns") {
          // Several columns; none chosen means the experiment's default (all but the target).
          const chosen = Array.from(input.selectedOptions, (o) => o.value);
          if (chosen.length) params[input.name] = chosen;
        } else if (kind === "checkbox") {
          params[input.name] = input.checked;
        } else if (input.validity && input.validity.badInput) {
          problems.push({ field: input.name, rule: "is not a number" });
        } else if (raw === "") {
          if (input.dataset.nullable) params[input.name] = null; // else the server's default
        } else if (kind === "integer" || kind === "number") {
          params[input.name] = Number(raw); // the server says when an integer is expected
        } else {
          params[input.name] = raw;
        }
      }
      let prof = profile.value;
      const trace = root.querySelector("#trace").checked;
      if (customise.checked || trace) {
        prof = { preset: profile.value };
        if (trace) prof.trace = true;
      }
      if (customise.checked) {
        for (const box of toggles.querySelectorAll("input[type=checkbox]")) prof[box.name] = box.checked;
      }
      const label = root.querySelector("#label").value.trim();
      const tolerance = {};
      for (const part of root.querySelector("#tolerance").value.split(",")) {
        if (!part.trim()) continue;
        const [key, value] = part.split("=").map((x) => (x || "").trim());
        if (!key || value === "" || value === undefined || Number.isNaN(Number(value))) {
          problems.push({ field: "tolerance", rule: "write metric=number pairs, e.g. val_loss=1e-6 (got " + JSON.stringify(part.trim()) + ")" });
        } else {
          tolerance[key] = Number(value);
        }
      }
      const payload = {
        experiment: experiment.value,
        params: params,
        seeds: root.querySelector("#seeds").value.trim(),
        profile: prof,
        label: label || null,
      };
      if (Object.keys(tolerance).length) payload.tolerance = tolerance;
      const until = root.querySelector("#until").value.trim();
      if (until) payload.until = until;
      const maxSeeds = root.querySelector("#max-seeds");
      if (maxSeeds.validity && maxSeeds.validity.badInput) {
        problems.push({ field: "max_seeds", rule: "is not a number" });
      } else if (maxSeeds.value.trim()) {
        payload.max_seeds = Number(maxSeeds.value.trim());
      }
      const sweep = collectSweep(problems);
      if (sweep) {
        payload.kind = "sweep";
        payload.sweep = sweep;
        if (payload.max_seeds !== undefined) sweep.max_seeds = payload.max_seeds;
        delete payload.max_seeds;
      }
      return { payload, problems };
    }

    // A grid of NAME=V1,V2 lines makes the job a sweep; values read as numbers when they are.
    function collectSweep(problems) {
      const text = root.querySelector("#sweep-grid").value;
      const grid = {};
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        const at = line.indexOf("=");
        const name = at > 0 ? line.slice(0, at).trim() : "";
        const values = at > 0 ? line.slice(at + 1).split(",").map((v) => v.trim()).filter((v) => v) : [];
        if (!name || !values.length) {
          problems.push({ field: "sweep_grid", rule: "write NAME=V1,V2 per line (got " + JSON.stringify(line.trim()) + ")" });
          continue;
        }
        grid[name] = values.map((v) => (v !== "" && !Number.isNaN(Number(v)) ? Number(v)
          : v === "true" ? true : v === "false" ? false : v));
      }
      if (!Object.keys(grid).length) return null;
      const metric = root.querySelector("#sweep-metric").value.trim();
      if (!metric) problems.push({ field: "sweep_metric", rule: "name the final metric the sweep compares" });
      const sweep = { grid: grid, metric: metric, race: root.querySelector("#sweep-race").checked };
      const mode = root.querySelector("#sweep-mode").value;
      if (mode) sweep.mode = mode;
      const margin = root.querySelector("#sweep-margin").value.trim();
      if (margin) sweep.margin = Number(margin);
      return sweep;
    }

    async function onSubmit(ev) {
      ev.preventDefault();
      clearErrors();
      const { payload, problems } = collect();
      if (problems.length) {
        showErrors(0, { detail: "Some parameters are not valid.", errors: problems });
        return;
      }
      submit.disabled = true;
      try {
        const resp = await fetch("/api/v1/jobs", {
          method: "POST",
          headers: csrfHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
          body: JSON.stringify(payload),
        });
        let body = null;
        try {
          body = await resp.json();
        } catch (err) {
          body = null;
        }
        if (resp.status === 201 && body && body.id != null) {
          window.location.assign("/jobs/" + body.id);
          return;
        }
        showErrors(resp.status, body);
      } catch (err) {
        showErrors(0, { detail: "Could not reach the server: " + err.message });
      } finally {
        submit.disabled = false;
      }
    }

    // A data set select fills the column selects that name it as their source: the target
    // offers binary columns first (the others cannot be a target), features offer them all.
    function fillColumns(datasetSelect) {
      const scope = datasetSelect.closest("fieldset");
      const option = datasetSelect.selectedOptions[0];
      const columns = option && option.dataset.columns ? JSON.parse(option.dataset.columns) : [];
      const selector = 'select[data-source="' + CSS.escape(datasetSelect.name) + '"]';
      for (const target of scope.querySelectorAll(selector)) {
        const multiple = target.dataset.kind === "columns";
        const ordered = multiple ? columns : [...columns.filter((c) => c.binary), ...columns.filter((c) => !c.binary)];
        target.replaceChildren(...ordered.map((c) => {
          const opt = document.createElement("option");
          opt.value = c.name;
          opt.textContent = c.name + " (" + c.type + (!multiple && c.binary ? ", binary" : "") + ")";
          return opt;
        }));
      }
    }
    // The target cannot also be a feature: its option in the features list is disabled.
    function excludeTarget(scope) {
      const target = scope.querySelector('select[data-kind="column"]');
      const features = scope.querySelector('select[data-kind="columns"]');
      if (!target || !features) return;
      for (const opt of features.options) {
        opt.disabled = opt.value === target.value;
        if (opt.disabled) opt.selected = false;
      }
    }
    for (const select of root.querySelectorAll('select[data-kind="dataset"]')) {
      const scope = select.closest("fieldset");
      select.addEventListener("change", () => {
        fillColumns(select);
        excludeTarget(scope);
      });
      for (const target of scope.querySelectorAll('select[data-kind="column"]')) {
        target.addEventListener("change", () => excludeTarget(scope));
      }
      fillColumns(select);
      excludeTarget(scope);
    }

    experiment.addEventListener("change", showExperiment);
    profile.addEventListener("change", applyPreset);
    customise.addEventListener("change", () => {
      if (customise.checked) applyPreset();
      showToggles();
    });
    form.addEventListener("submit", onSubmit);
    showExperiment();
    showToggles();
    root.dataset.ready = "1";
  }

  /* ---------- job page ---------- */

  const isBand = (trace) => trace.meta === "band" || trace.legendgroup === "band";

  function jobPage(root) {
    const jobId = root.dataset.jobId;
    const chart = document.getElementById("overlay");
    const select = document.getElementById("metric-select");
    const band = document.getElementById("band-toggle");
    const empty = document.getElementById("overlay-empty");
    let chartKey = root.dataset.chartKey;
    let metric = null;

    function fillSelect(metrics, chosen) {
      const have = Array.from(select.options, (o) => o.value).join("\n");
      if (have !== metrics.join("\n")) select.replaceChildren(...metrics.map((m) => new Option(m, m)));
      if (chosen) select.value = chosen;
      select.disabled = metrics.length === 0;
    }

    async function loadChart() {
      const query = new URLSearchParams({ band: band.checked ? "true" : "false" });
      if (metric) query.set("metric", metric);
      const body = await getJSON("/api/v1/jobs/" + jobId + "/overlay?" + query);
      metric = body.metric;
      fillSelect(body.metrics || [], body.metric);
      const fig = body.figure || { data: [], layout: {} };
      const traces = fig.data || [];
      empty.hidden = traces.length > 0;
      chart.hidden = traces.length === 0;
      if (!traces.length) return;
      // uirevision keeps the user's zoom across live refreshes of the same metric.
      const layout = Object.assign({}, fig.layout, { uirevision: metric, autosize: true });
      await Plotly.react(chart, traces, layout, chartConfig("job-" + jobId + "-" + metric));
      chart.dataset.traces = String(traces.length);
    }

    function refreshChart() {
      return loadChart().catch((err) => {
        console.warn("seedlab: overlay failed", err);
        empty.textContent = "The chart could not be loaded: " + err.message;
        empty.hidden = false;
      });
    }

    select.addEventListener("change", () => {
      metric = select.value;
      refreshChart();
    });
    band.addEventListener("change", () => {
      const indices = (chart.data || []).map((t, i) => (isBand(t) ? i : -1)).filter((i) => i >= 0);
      if (indices.length) Plotly.restyle(chart, { visible: band.checked }, indices);
    });

    // The strip plot travels inside the spread fragment: drawn again whenever that changes.
    async function drawStrip() {
      const div = document.getElementById("strip-chart");
      if (!div || div.dataset.drawn === "1") return;
      const fig = JSON.parse(div.dataset.figure);
      div.dataset.drawn = "1";
      await Plotly.react(div, fig.data, Object.assign({}, fig.layout, { autosize: true }),
        chartConfig("job-" + jobId + "-final-metrics"));
      div.dataset.ready = "1";
    }

    // The sequential plan's half-width chart travels inside its live fragment, like the strip.
    async function drawSequential() {
      const div = document.getElementById("sequential-chart");
      if (!div || div.dataset.drawn === "1") return;
      const fig = JSON.parse(div.dataset.figure);
      div.dataset.drawn = "1";
      await Plotly.react(div, fig.data, Object.assign({}, fig.layout, { autosize: true }),
        chartConfig("job-" + jobId + "-ci-halfwidth"));
      div.dataset.ready = "1";
    }

    // A sweep's charts (one per swept parameter) travel inside its live fragment too.
    async function drawSweep() {
      for (const div of document.querySelectorAll(".sweep-chart")) {
        if (div.dataset.drawn === "1") continue;
        const fig = JSON.parse(div.dataset.figure);
        div.dataset.drawn = "1";
        await Plotly.react(div, fig.data, Object.assign({}, fig.layout, { autosize: true }),
          chartConfig("job-" + jobId + "-sweep-" + div.dataset.parameter));
        div.dataset.ready = "1";
      }
    }

    const labelForm = document.getElementById("label-form");
    labelForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = document.getElementById("label-input");
      const status = document.getElementById("label-status");
      status.textContent = "Saving…";
      const resp = await fetch("/api/v1/jobs/" + jobId, {
        method: "PATCH",
        headers: csrfHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
        body: JSON.stringify({ label: input.value }),
      });
      const body = await resp.json().catch(() => null);
      if (!resp.ok) {
        const detail = body && body.detail;
        status.textContent = "Not saved: " + (typeof detail === "string" ? detail
          : Array.isArray(detail) ? detail.map((d) => d.msg).join("; ") : "HTTP " + resp.status);
        return;
      }
      input.value = body.label || "";
      document.getElementById("job-label-heading").textContent = body.label ? " · " + body.label : "";
      status.textContent = "Saved.";
    });

    let live = null;
    root.addEventListener("click", async (ev) => {
      const button = ev.target.closest("#cancel-job");
      if (!button) return;
      button.disabled = true;
      button.textContent = "Cancelling…";
      const resp = await fetch("/api/v1/jobs/" + jobId + "/cancel", {
        method: "POST",
        headers: csrfHeaders({}),
      });
      if (!resp.ok) {
        button.disabled = false;
        button.textContent = "Cancel failed (HTTP " + resp.status + "), retry";
      }
      if (live) live.now();
    });

    if (root.dataset.terminal !== "true") {
      const liveUrl = "/jobs/" + jobId + "/live?runs_offset=" + (root.dataset.runsOffset || "0");
      live = poller(liveUrl, (data) => {
        swapFragments(root, data.html);
        drawSweep().catch((err) => console.warn("seedlab: sweep chart failed", err));
        drawStrip().catch((err) => console.warn("seedlab: strip plot failed", err));
        drawSequential().catch((err) => console.warn("seedlab: half-width chart failed", err));
        root.dataset.terminal = String(data.terminal);
        if (data.chart_key !== chartKey || data.terminal) {
          chartKey = data.chart_key;
          refreshChart();
        }
        return !data.terminal;
      });
    }
    Promise.all([
      refreshChart(),
      drawStrip().catch((err) => console.warn("seedlab: strip plot failed", err)),
      drawSequential().catch((err) => console.warn("seedlab: half-width chart failed", err)),
      drawSweep().catch((err) => console.warn("seedlab: sweep chart failed", err)),
    ]).then(() => {
      root.dataset.ready = "1";
    });
  }

  /* ---------- experiment page ---------- */

  function experimentPage(root) {
    const div = document.getElementById("history-chart");
    if (!div) {
      root.dataset.ready = "1";
      return;
    }
    const fig = JSON.parse(div.dataset.figure);
    Plotly.react(div, fig.data, Object.assign({}, fig.layout, { autosize: true }),
      chartConfig("experiment-" + root.dataset.experiment)).then(() => {
      root.dataset.ready = "1";
    });
  }

  /* ---------- run page ---------- */

  function runPage(root) {
    const runId = root.dataset.runId;
    const grid = document.getElementById("run-curves");
    const empty = document.getElementById("run-curves-empty");
    let chartKey = root.dataset.chartKey;

    async function loadCurves() {
      const body = await getJSON("/api/v1/runs/" + runId + "/metrics?max_points=2000");
      const series = body.series || [];
      empty.hidden = series.length > 0;
      for (const s of series) {
        let div = grid.querySelector('[data-metric="' + CSS.escape(s.key) + '"]');
        if (!div) {
          div = document.createElement("div");
          div.className = "chart";
          div.dataset.metric = s.key;
          grid.append(div);
        }
        const trace = {
          type: "scatter",
          mode: s.points.length <= 50 ? "lines+markers" : "lines",
          name: s.key,
          x: s.points.map((p) => p[0]),
          y: s.points.map((p) => p[1]),
          hovertemplate: "epoch %{x}: %{y:.6g}<extra></extra>",
        };
        const layout = {
          title: { text: s.key + (s.total_points > s.points.length ? " (downsampled)" : "") },
          xaxis: { title: { text: "epoch" } },
          margin: { l: 60, r: 20, t: 40, b: 45 },
          uirevision: s.key,
        };
        await Plotly.react(div, [trace], layout, chartConfig("run-" + runId + "-" + s.key));
      }
    }

    function refresh() {
      return loadCurves().catch((err) => console.warn("seedlab: curves failed", err));
    }

    if (root.dataset.terminal !== "true") {
      poller("/runs/" + runId + "/live", (data) => {
        swapFragments(root, data.html);
        root.dataset.terminal = String(data.terminal);
        if (data.chart_key !== chartKey || data.terminal) {
          chartKey = data.chart_key;
          refresh();
        }
        return !data.terminal;
      });
    }
    refresh().then(() => {
      root.dataset.ready = "1";
    });
  }

  /* ---------- data sets page ---------- */

  // Uploads with fetch so that a refused file (too large, malformed, name taken) shows the
  // server's sentence on the page; a stored one reloads the list.
  function datasetsPage(root) {
    const form = root.querySelector("#dataset-upload");
    const errors = root.querySelector("#dataset-errors");
    const submit = root.querySelector("#dataset-submit");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errors.hidden = true;
      const file = root.querySelector("#dataset-file").files[0];
      if (!file) {
        errors.textContent = "Choose a CSV file first.";
        errors.hidden = false;
        return;
      }
      const body = new FormData();
      body.append("file", file, file.name);
      const name = root.querySelector("#dataset-name").value.trim();
      if (name) body.append("name", name);
      submit.disabled = true;
      try {
        const resp = await fetch("/api/v1/datasets", { method: "POST", body: body, headers: csrfHeaders({ Accept: "application/json" }) });
        let data = null;
        try {
          data = await resp.json();
        } catch (err) {
          data = null;
        }
        if (resp.ok && data && data.sha256) {
          window.location.reload();
          return;
        }
        errors.textContent = (data && typeof data.detail === "string") ? data.detail : "Upload refused (HTTP " + resp.status + ").";
        errors.hidden = false;
      } catch (err) {
        errors.textContent = "Could not reach the server: " + err.message;
        errors.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
    root.dataset.ready = "1";
  }

  // Each page is recognised by its root element; no inline scripts needed.
  function init() {
    const pages = {
      "new-job": newJobForm,
      "job-page": jobPage,
      "run-page": runPage,
      "experiment-page": experimentPage,
      "datasets-page": datasetsPage,
    };
    for (const [id, start] of Object.entries(pages)) {
      const root = document.getElementById(id);
      if (root) start(root);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();

  return { newJobForm, jobPage, runPage, experimentPage, datasetsPage };
})();

// "Audit the randomness sources" on the job page: submits an audit job for the same
// experiment, parameters and first seed, then opens it.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("#audit-button");
  if (!button) return;
  button.disabled = true;
  const error = document.getElementById("audit-error");
  const payload = {
    kind: "audit",
    experiment: button.dataset.experiment,
    params: JSON.parse(button.dataset.params),
    audit: { seed: Number(button.dataset.seed) },
  };
  const response = await fetch("/api/v1/jobs", {
    method: "POST",
    headers: csrfHeaders({ "Content-Type": "application/json" }),
    body: JSON.stringify(payload),
  });
  const body = await response.json();
  if (response.status === 201) {
    window.location.href = `/jobs/${body.id}`;
  } else {
    error.textContent = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    error.hidden = false;
    button.disabled = false;
  }
});

// "Decompose the variance" on the job page: asks the server for the plan, shows how many runs
// it queues, and submits only when confirmed.
function decomposePayload(button) {
  return {
    kind: "decompose",
    experiment: button.dataset.experiment,
    params: JSON.parse(button.dataset.params),
    seeds: button.dataset.seeds,
  };
}

function showDecomposeError(body) {
  const error = document.getElementById("decompose-error");
  error.textContent = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  error.hidden = false;
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("#decompose-button");
  if (!button) return;
  button.disabled = true;
  document.getElementById("decompose-error").hidden = true;
  const response = await fetch("/api/v1/jobs/plan", {
    method: "POST",
    headers: csrfHeaders({ "Content-Type": "application/json" }),
    body: JSON.stringify(decomposePayload(button)),
  });
  const body = await response.json();
  button.disabled = false;
  if (!response.ok) {
    showDecomposeError(body);
    return;
  }
  document.getElementById("decompose-plan").textContent = body.text + ".";
  const submit = document.getElementById("decompose-submit");
  submit.textContent = `Submit ${body.run_count} runs`;
  submit.dataset.runCount = String(body.run_count);
  document.getElementById("decompose-confirm").hidden = false;
});

document.addEventListener("click", (event) => {
  if (!event.target.closest("#decompose-cancel")) return;
  document.getElementById("decompose-confirm").hidden = true;
});

document.addEventListener("click", async (event) => {
  const submit = event.target.closest("#decompose-submit");
  if (!submit) return;
  submit.disabled = true;
  const button = document.getElementById("decompose-button");
  const response = await fetch("/api/v1/jobs", {
    method: "POST",
    headers: csrfHeaders({ "Content-Type": "application/json" }),
    body: JSON.stringify(decomposePayload(button)),
  });
  const body = await response.json();
  if (response.status === 201) {
    window.location.href = `/jobs/${body.id}`;
  } else {
    showDecomposeError(body);
    submit.disabled = false;
  }
});

// "Replay the best" on the job page: queues the top K seeds by a metric under `full`, then
// opens the replay job, whose page shows whether each seed reproduced.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("#replay-best-form");
  if (!form) return;
  event.preventDefault();
  const button = document.getElementById("replay-best-button");
  const error = document.getElementById("replay-error");
  button.disabled = true;
  const response = await fetch(`/api/v1/jobs/${form.dataset.job}/replay-best`, {
    method: "POST",
    headers: csrfHeaders({ "Content-Type": "application/json" }),
    body: JSON.stringify({
      metric: document.getElementById("replay-metric").value,
      k: Number(document.getElementById("replay-k").value),
    }),
  });
  const body = await response.json();
  if (response.status === 201) {
    window.location.href = `/jobs/${body.id}`;
  } else {
    error.textContent = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    error.hidden = false;
    button.disabled = false;
  }
});
