/** Markdown tables for the report: a header row, an alignment row and one row per entry. */

export type Align = "left" | "right";

/**
 * A GitHub-flavoured markdown table. Columns are left-aligned unless `align` says "right" (numbers);
 * a "|" inside a cell is escaped so it cannot split the row.
 */
export function markdownTable(headers: string[], rows: string[][], align: Align[] = []): string {
  const escape = (cell: string): string => cell.replace(/\|/g, "\\|");
  const line = (cells: string[]): string => `| ${cells.map(escape).join(" | ")} |`;
  const rule = headers.map((_, i) => (align[i] === "right" ? "---:" : "---"));
  const width = headers.length;
  const padded = rows.map((r) => {
    if (r.length > width) throw new Error(`table row has ${r.length} cells for ${width} columns`);
    return [...r, ...Array<string>(width - r.length).fill("")];
  });
  return [line(headers), `| ${rule.join(" | ")} |`, ...padded.map(line)].join("\n");
}
