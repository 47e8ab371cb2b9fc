// Small SVG charts: horizontal bars (one value or stacked parts per row) and a dot timeline.
const COLORS = ["#2f7d4f", "#3868b0", "#c98a1a", "#a33c8f", "#7a7a7a", "#b23b3b"];

function esc(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// rows: [{label, parts: [number...]}]; legend: names of the parts; format: value -> text.
export function bars(title, rows, { legend = null, format = (v) => String(v), max = null } = {}) {
  const width = 520;
  const left = 110;
  const row = 22;
  const top = legend ? 42 : 26;
  const height = top + rows.length * row + 8;
  const total = (r) => r.parts.reduce((s, v) => s + (v ?? 0), 0);
  const top_ = max ?? Math.max(1e-9, ...rows.map(total));
  const scale = (width - left - 70) / top_;
  let svg = `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`;
  svg += `<text x="0" y="16" class="chart-title">${esc(title)}</text>`;
  if (legend) {
    let x = 0;
    legend.forEach((name, i) => {
      svg += `<rect x="${x}" y="24" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`;
      svg += `<text x="${x + 14}" y="33" class="chart-legend">${esc(name)}</text>`;
      x += 14 + name.length * 7 + 12;
    });
  }
  rows.forEach((r, i) => {
    const y = top + i * row;
    svg += `<text x="0" y="${y + 14}" class="chart-label">${esc(r.label)}</text>`;
    let x = left;
    r.parts.forEach((v, k) => {
      const w = Math.max(0, (v ?? 0) * scale);
      if (w > 0) {
        svg += `<rect x="${x}" y="${y + 3}" width="${w}" height="${row - 8}" fill="${COLORS[k % COLORS.length]}"><title>${esc(legend ? legend[k] : r.label)}: ${esc(format(v))}</title></rect>`;
      }
      x += w;
    });
    const text = r.parts.some((v) => v == null) && r.parts.length === 1 ? "–" : format(total(r));
    svg += `<text x="${x + 6}" y="${y + 14}" class="chart-value">${esc(text)}</text>`;
  });
  return `${svg}</svg>`;
}

// points: [{x (seconds), y (seconds), series}], e.g. vote latency per round over time.
export function timeline(title, points, series) {
  const width = 520;
  const height = 170;
  const pad = { l: 40, r: 10, t: 40, b: 22 };
  if (!points.length) return `<p class="muted">${esc(title)}: no data in this period</p>`;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1];
  const y1 = Math.max(1, ...ys);
  const fx = (x) => pad.l + ((x - x0) / Math.max(1, x1 - x0)) * (width - pad.l - pad.r);
  const fy = (y) => height - pad.b - (y / y1) * (height - pad.t - pad.b);
  let svg = `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`;
  svg += `<text x="0" y="16" class="chart-title">${esc(title)}</text>`;
  let lx = 0;
  series.forEach((name, i) => {
    svg += `<circle cx="${lx + 5}" cy="29" r="4" fill="${COLORS[i % COLORS.length]}"/>`;
    svg += `<text x="${lx + 12}" y="33" class="chart-legend">${esc(name)}</text>`;
    lx += 12 + name.length * 7 + 10;
  });
  svg += `<line x1="${pad.l}" y1="${fy(0)}" x2="${width - pad.r}" y2="${fy(0)}" class="axis"/>`;
  svg += `<text x="0" y="${fy(y1) + 4}" class="chart-label">${y1}s</text><text x="0" y="${fy(0)}" class="chart-label">0s</text>`;
  for (const p of points) {
    const i = Math.max(0, series.indexOf(p.series));
    svg += `<circle cx="${fx(p.x).toFixed(1)}" cy="${fy(p.y).toFixed(1)}" r="3" fill="${COLORS[i % COLORS.length]}"><title>${esc(p.series)}: ${p.y}s</title></circle>`;
  }
  return `${svg}</svg>`;
}
