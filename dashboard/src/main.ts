// The dashboard UI (preact, no JSX so the repo needs no JSX tooling): the Rollout list and one Rollout's page.
import { type ComponentChild, h, render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { isRollingOut, PHASES } from "../../src/api/constants.ts";
import { type EvidenceProgress, evidenceProgress } from "../../src/api/evidence-view.ts";
import { eventTime, type KubeEvent } from "../../src/api/kube-event.ts";
import type { Rollout } from "../../src/api/rollout-schema.ts";
import { act, contextName, fetchRollout, fetchRollouts, startNamespace, subscribe } from "./api.ts";
import { Chart } from "./chart.ts";
import { metricPlots, type Point, weightSeries } from "./plot.ts";

function navigate(path: string): void {
  history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

function link(path: string, ...children: ComponentChild[]): ComponentChild {
  return h(
    "a",
    {
      href: path,
      onClick: (e: MouseEvent) => {
        e.preventDefault();
        navigate(path);
      },
    },
    ...children,
  );
}

function ago(at: string | undefined, now: number): string {
  if (!at) return "-";
  const s = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d`;
}

type Step = { setWeight?: number; pause?: { duration?: string } };

/**
 * The steps of the strategy (the stepWeight/maxWeight shorthand expanded, as the controller does; blue/green as its
 * preview at 0 % and its cut-over at 100 %).
 */
function stepsOf(r: Rollout): Step[] {
  if (r.spec.strategy.blueGreen) return [{ setWeight: 0 }, { setWeight: 100 }];
  const c = r.spec.strategy.canary ?? {};
  if (c.steps) return c.steps;
  const step = c.stepWeight ?? 50;
  const max = c.maxWeight ?? 50;
  const out: Step[] = [];
  for (let w = step; w < max; w += step) out.push({ setWeight: w });
  out.push({ setWeight: max });
  return out;
}

const key = (r: Rollout) => `${r.metadata.namespace}/${r.metadata.name}`;

function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  return path;
}

function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function Phase(p: { phase?: string; reason?: string }): ComponentChild {
  const phase = p.phase ?? "Unknown";
  return h(
    "span",
    { class: `phase phase-${phase}`, "data-testid": "phase" },
    phase,
    p.reason ? ` (${p.reason})` : "",
  );
}

/** The current step's evidence (judge: sequential): a bar, requests seen of needed, ETA and budget left. */
function evidenceRow(p: EvidenceProgress | undefined): ComponentChild[] {
  if (!p) return [];
  return [
    h("span", { class: "muted" }, "Evidence"),
    h(
      "span",
      { "data-testid": "evidence", class: p.late ? "late" : "" },
      h("span", { class: "wbar" }, h("span", { style: `width:${Math.round(100 * p.fraction)}%` })),
      ` ${p.requests} · ${p.eta}${p.late ? ": InsufficientTraffic" : ""} · ${p.budget}`,
    ),
  ];
}

function WeightBar(p: { weight: number }): ComponentChild {
  return h(
    "span",
    null,
    h("span", { class: "wbar" }, h("span", { style: `width:${p.weight}%` })),
    `${p.weight}%`,
  );
}

function List(): ComponentChild {
  const initial = startNamespace();
  const [rollouts, setRollouts] = useState(new Map<string, Rollout>());
  const [error, setError] = useState("");
  const [ns, setNs] = useState("");
  const [phase, setPhase] = useState("");
  const now = useNow();
  useEffect(() => {
    let closed = false;
    fetchRollouts(initial).then(
      (items) => !closed && setRollouts(new Map(items.map((r) => [key(r), r]))),
      (e: Error) => setError(e.message),
    );
    const stop = subscribe(`/api/stream${initial ? `?namespace=${encodeURIComponent(initial)}` : ""}`, {
      rollout: (m) =>
        setRollouts((prev) => {
          const next = new Map(prev);
          if (m.type === "DELETED") next.delete(key(m.object));
          else next.set(key(m.object), m.object);
          return next;
        }),
      failure: setError,
    });
    return () => {
      closed = true;
      stop();
    };
  }, [initial]);
  const all = [...rollouts.values()].sort((a, b) => key(a).localeCompare(key(b)));
  const namespaces = [...new Set(all.map((r) => r.metadata.namespace))];
  const shown = all.filter(
    (r) => (!ns || r.metadata.namespace === ns) && (!phase || r.status?.phase === phase),
  );
  return h(
    "main",
    null,
    h(
      "div",
      { class: "filters" },
      h(
        "label",
        null,
        "Namespace ",
        h(
          "select",
          {
            "data-testid": "filter-namespace",
            value: ns,
            onChange: (e: Event) => setNs((e.target as HTMLSelectElement).value),
          },
          h("option", { value: "" }, initial ? initial : "all"),
          ...namespaces.map((n) => h("option", { value: n }, n)),
        ),
      ),
      h(
        "label",
        null,
        "Phase ",
        h(
          "select",
          {
            "data-testid": "filter-phase",
            value: phase,
            onChange: (e: Event) => setPhase((e.target as HTMLSelectElement).value),
          },
          h("option", { value: "" }, "any"),
          ...PHASES.map((p) => h("option", { value: p }, p)),
        ),
      ),
    ),
    error ? h("div", { class: "alert error", role: "alert" }, error) : null,
    h(
      "table",
      { "data-testid": "rollout-list" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ...["Namespace", "Name", "Phase", "Weight", "Step", "Age"].map((c) => h("th", null, c)),
        ),
      ),
      h(
        "tbody",
        null,
        ...shown.map((r) => {
          const st = r.status ?? {};
          const steps = stepsOf(r).length;
          return h(
            "tr",
            { "data-testid": `row-${r.metadata.namespace}-${r.metadata.name}` },
            h("td", null, r.metadata.namespace),
            h("td", null, link(`/rollouts/${r.metadata.namespace}/${r.metadata.name}`, r.metadata.name)),
            h("td", null, h(Phase, { phase: st.phase, reason: st.pauseReason })),
            h("td", null, h(WeightBar, { weight: st.canaryWeight ?? 0 })),
            h(
              "td",
              null,
              isRollingOut(st.phase) ? `${Math.min((st.currentStepIndex ?? 0) + 1, steps)}/${steps}` : "-",
            ),
            h("td", null, ago((r.metadata as { creationTimestamp?: string }).creationTimestamp, now)),
          );
        }),
      ),
    ),
    shown.length === 0 ? h("p", { class: "muted" }, "No Rollouts to show.") : null,
  );
}

function Timeline(p: { rollout: Rollout }): ComponentChild {
  const st = p.rollout.status ?? {};
  const rollingOut = isRollingOut(st.phase);
  const promoting = st.phase === "Promoting" || st.phase === "Finalizing";
  const current = st.currentStepIndex ?? 0;
  return h(
    "ol",
    { class: "timeline", "data-testid": "timeline" },
    ...stepsOf(p.rollout).map((s, i) => {
      const state = !rollingOut ? "" : promoting || i < current ? "done" : i === current ? "current" : "";
      const label =
        s.setWeight !== undefined
          ? `${s.setWeight}%`
          : `pause${s.pause?.duration ? ` ${s.pause.duration}` : ""}`;
      return h("li", { class: state }, `${i + 1}. ${label}`);
    }),
    h("li", { class: promoting ? "current" : st.phase === "Healthy" ? "done" : "" }, "promote"),
  );
}

const ACTIONS: { action: string; label: string; className?: string }[] = [
  { action: "promote", label: "Promote", className: "primary" },
  { action: "promote-full", label: "Promote fully" },
  { action: "pause", label: "Pause" },
  { action: "resume", label: "Resume" },
  { action: "retry", label: "Retry" },
  { action: "abort", label: "Abort", className: "danger" },
];

/** Approval checks the rollout waits for (each gets an Approve button). */
const waitingApprovals = (r: Rollout | undefined): string[] => [
  ...new Set(
    (r?.status?.checks ?? [])
      .filter((c) => c.kind === "approval" && c.phase === "Pending")
      .map((c) => c.name),
  ),
];

function Buttons(p: { ns: string; name: string; rollout: Rollout | undefined }): ComponentChild {
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>();
  const run = (action: string, check?: string) =>
    act(p.ns, p.name, action, check).then(
      (r) =>
        setResult({
          ok: true,
          text: `requested: ${r.annotation}=${r.value}; the page updates when the controller acts`,
        }),
      (e: Error) => setResult({ ok: false, text: e.message }),
    );
  return h(
    "section",
    null,
    h("h2", null, "Actions"),
    h(
      "div",
      { class: "buttons" },
      // The same request as `kubectl vireo approve NAME CHECK`, written with your credentials.
      ...waitingApprovals(p.rollout).map((check) =>
        h(
          "button",
          { class: "primary", "data-testid": `approve-${check}`, onClick: () => run("approve", check) },
          `Approve ${check}`,
        ),
      ),
      ...ACTIONS.map((a) =>
        h(
          "button",
          { class: a.className ?? "", "data-testid": `action-${a.action}`, onClick: () => run(a.action) },
          a.label,
        ),
      ),
    ),
    result
      ? h(
          "div",
          { class: `alert ${result.ok ? "info" : "error"}`, role: "alert", "data-testid": "action-result" },
          result.text,
        )
      : null,
  );
}

function Detail(p: { ns: string; name: string }): ComponentChild {
  const [rollout, setRollout] = useState<Rollout | undefined>();
  const [events, setEvents] = useState<KubeEvent[]>([]);
  const [live, setLive] = useState<Point[]>([]);
  const [error, setError] = useState("");
  const now = useNow();
  useEffect(() => {
    const seen = (r: Rollout) => {
      setRollout(r);
      setLive((prev) => [...prev, { t: Date.now(), v: r.status?.canaryWeight ?? 0 }]);
    };
    fetchRollout(p.ns, p.name).then(
      (d) => {
        seen(d.rollout);
        setEvents(d.events);
      },
      (e: Error) => setError(e.message),
    );
    return subscribe(`/api/stream/${encodeURIComponent(p.ns)}/${encodeURIComponent(p.name)}`, {
      rollout: (m) => (m.type === "DELETED" ? setError("this Rollout was deleted") : seen(m.object)),
      event: (m) =>
        setEvents((prev) => [...prev.filter((e) => e.metadata.name !== m.object.metadata.name), m.object]),
      failure: setError,
    });
  }, [p.ns, p.name]);
  const sortedEvents = useMemo(
    () => [...events].sort((a, b) => eventTime(a).localeCompare(eventTime(b))),
    [events],
  );
  if (!rollout)
    return h(
      "main",
      null,
      error ? h("div", { class: "alert error", role: "alert" }, error) : h("p", null, "Loading…"),
    );
  const st = rollout.status ?? {};
  // The weight holds until now: extend the step line to the right edge.
  const weights = weightSeries(rollout, [...live, { t: now, v: st.canaryWeight ?? 0 }]);
  const metrics = metricPlots(rollout);
  const times = [...weights.map((w) => w.t), ...metrics.flatMap((m) => m.canary.map((c) => c.t))];
  const t1 = now;
  const t0 = Math.min(t1 - 60_000, ...times);
  return h(
    "main",
    null,
    h(
      "h1",
      { style: "font-size:1.3rem" },
      `${rollout.metadata.namespace}/${rollout.metadata.name} `,
      h(Phase, { phase: st.phase, reason: st.pauseReason }),
    ),
    st.message ? h("p", { class: "muted", "data-testid": "message" }, st.message) : null,
    error ? h("div", { class: "alert error", role: "alert" }, error) : null,
    h(Buttons, { ns: p.ns, name: p.name, rollout }),
    h(
      "section",
      null,
      h("h2", null, "Steps"),
      h(Timeline, { rollout }),
      h(
        "div",
        { class: "kv", style: "margin-top:0.6rem" },
        h("span", { class: "muted" }, "Weights"),
        h(
          "span",
          { "data-testid": "weights" },
          `primary ${100 - (st.canaryWeight ?? 0)}% · canary ${st.canaryWeight ?? 0}%`,
        ),
        h("span", { class: "muted" }, "Revisions"),
        h(
          "span",
          null,
          `stable ${st.stableRevision ?? "-"}${st.canaryRevision && st.canaryRevision !== st.stableRevision ? ` · canary ${st.canaryRevision}` : ""}`,
        ),
        h("span", { class: "muted" }, "In step"),
        h("span", null, isRollingOut(st.phase) ? ago(st.stepStartedAt, now) : "-"),
        ...evidenceRow(evidenceProgress(st, now)),
      ),
    ),
    h(
      "section",
      null,
      h("h2", null, "Over time"),
      h(
        "div",
        { class: "plots" },
        h(Chart, {
          id: "plot-weight",
          title: "Canary weight",
          series: [{ name: "weight", className: "weight", points: weights, step: true }],
          domain: [0, 100],
          t0,
          t1,
          unit: "%",
        }),
        ...metrics.map((m) =>
          h(Chart, {
            id: `plot-metric-${m.name}`,
            title: `${m.name}${m.threshold ? ` (${m.threshold})` : ""}`,
            series: [
              { name: "canary", className: "canary", points: m.canary },
              ...(m.primary.length > 0 ? [{ name: "primary", className: "primary", points: m.primary }] : []),
            ],
            thresholds: [
              ...(m.min !== undefined ? [{ label: `min ${m.min}`, value: m.min }] : []),
              ...(m.max !== undefined ? [{ label: `max ${m.max}`, value: m.max }] : []),
            ],
            marks: m.verdicts
              .map((v) => ({ t: v.t, v: m.canary.find((c) => c.t === v.t)?.v, ok: v.verdict === "Pass" }))
              .filter((x): x is { t: number; v: number; ok: boolean } => x.v !== undefined),
            t0,
            t1,
          }),
        ),
      ),
    ),
    h(
      "section",
      null,
      h("h2", null, "Conditions"),
      h(
        "table",
        { "data-testid": "conditions" },
        h(
          "thead",
          null,
          h("tr", null, ...["Type", "Status", "Reason", "Since", "Message"].map((c) => h("th", null, c))),
        ),
        h(
          "tbody",
          null,
          ...(st.conditions ?? []).map((c) =>
            h(
              "tr",
              null,
              h("td", null, c.type),
              h("td", null, c.status),
              h("td", null, c.reason),
              h("td", null, ago(c.lastTransitionTime, now)),
              h("td", null, c.message),
            ),
          ),
        ),
      ),
    ),
    h(
      "section",
      null,
      h("h2", null, "History"),
      h(
        "p",
        { class: "muted" },
        "What the controller recorded in the Rollout's status (only it can write there).",
      ),
      h(
        "table",
        { "data-testid": "history" },
        h(
          "thead",
          null,
          h("tr", null, ...["When", "What", "Revision", "Detail"].map((c) => h("th", null, c))),
        ),
        h(
          "tbody",
          null,
          ...(st.milestones ?? [])
            .slice()
            .reverse()
            .map((m) =>
              h(
                "tr",
                null,
                h("td", null, ago(m.at, now)),
                h("td", null, m.reason),
                h("td", null, m.revision),
                h("td", null, m.message),
              ),
            ),
        ),
      ),
    ),
    h(
      "section",
      null,
      h("h2", null, "Events"),
      h(
        "p",
        { class: "muted", "data-testid": "events-caveat" },
        `As reported: anyone allowed to create Events in ${rollout.metadata.namespace} can write one. History above is the controller's own record.`,
      ),
      h(
        "table",
        { "data-testid": "events" },
        h("thead", null, h("tr", null, ...["Age", "Type", "Reason", "Message"].map((c) => h("th", null, c)))),
        h(
          "tbody",
          null,
          ...sortedEvents
            .slice(-15)
            .reverse()
            .map((e) =>
              h(
                "tr",
                null,
                h("td", null, ago(eventTime(e), now)),
                h("td", null, e.type ?? ""),
                h("td", null, e.reason ?? ""),
                h("td", null, e.message ?? ""),
              ),
            ),
        ),
      ),
    ),
  );
}

function App(): ComponentChild {
  const path = usePath();
  const m = /^\/rollouts\/([^/]+)\/([^/]+)\/?$/.exec(path);
  return h(
    "div",
    null,
    h(
      "header",
      { class: "top" },
      link("/", "Vireo rollouts"),
      h("span", { class: "ctx" }, `context ${contextName()}`),
    ),
    m
      ? h(Detail, { key: path, ns: decodeURIComponent(m[1] ?? ""), name: decodeURIComponent(m[2] ?? "") })
      : h(List, null),
  );
}

const root = document.getElementById("app");
if (root) render(h(App, null), root);
