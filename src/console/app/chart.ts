import { svg } from './dom.js';
import type { DayCounts } from './model.js';

/** The four 7-day figures the rule list shows, with their chart colours (legend in the page header). */
export const CHART_SERIES = ['raised', 'filtered', 'suppressed', 'rejected'] as const;
export type Series = (typeof CHART_SERIES)[number];

/** One figure of a day (or of the totals): the counters store calls the raised alerts `alerts`. */
export function countOf(counts: Record<string, unknown> | undefined, series: Series): number {
  const value = series === 'raised' ? (counts?.raised ?? counts?.alerts) : counts?.[series];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * A small grouped bar chart: one group per day, one bar per figure, scaled to the busiest figure of the rule's week.
 * Screen readers get the same figures as text (aria-label); each bar has a tooltip.
 */
export function weekChart(days: DayCounts[], label: string): SVGElement {
  const width = 7 * 14;
  const height = 24;
  const max = Math.max(1, ...days.flatMap((d) => CHART_SERIES.map((s) => countOf(d, s))));
  const bars = days.flatMap((day, i) =>
    CHART_SERIES.map((series, j) => {
      const value = countOf(day, series);
      const barHeight = value === 0 ? 0 : Math.max(1, Math.round((value / max) * height));
      return svg(
        'rect',
        { x: i * 14 + j * 3, y: height - barHeight, width: 3, height: barHeight, class: `bar-${series}` },
        svg('title', {}, `${day.day}: ${value} ${series}`),
      );
    }),
  );
  const text = days.map((d) => `${d.day}: ${CHART_SERIES.map((s) => `${countOf(d, s)} ${s}`).join(', ')}`).join('; ');
  return svg(
    'svg',
    {
      class: 'week-chart',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': `${label}: ${text}`,
    },
    svg('line', { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, class: 'axis' }),
    bars,
  );
}
