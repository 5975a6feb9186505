package org.kexecmeasured.payload;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Renders an {@link Inspector} report as indented text: scalars as "key: value", multi-line text as
 * an indented block, lists of flat records as aligned tables, nested maps as indented sections.
 */
public final class ReportText {
    private ReportText() {
    }

    public static String render(Map<String, Object> report) {
        StringBuilder sb = new StringBuilder();
        map(sb, report, "");
        return sb.toString();
    }

    private static void map(StringBuilder sb, Map<?, ?> m, String ind) {
        for (Map.Entry<?, ?> e : m.entrySet()) {
            String k = String.valueOf(e.getKey());
            Object v = e.getValue();
            if (v instanceof Map<?, ?> sub && sub.isEmpty()) {
                sb.append(ind).append(k).append(": (none)\n");
            } else if (v instanceof Map<?, ?> sub) {
                sb.append(ind).append(k).append(":\n");
                map(sb, sub, ind + "  ");
            } else if (v instanceof List<?> list) {
                list(sb, k, list, ind);
            } else if (v instanceof String s && s.contains("\n")) {
                sb.append(ind).append(k).append(":\n");
                for (String line : s.strip().split("\n")) sb.append(ind).append("  | ").append(line).append('\n');
            } else {
                sb.append(ind).append(k).append(": ").append(scalar(v)).append('\n');
            }
        }
    }

    private static void list(StringBuilder sb, String k, List<?> list, String ind) {
        if (list.isEmpty()) {
            sb.append(ind).append(k).append(": (none)\n");
            return;
        }
        boolean allScalar = list.stream().noneMatch(x -> x instanceof Map || x instanceof List);
        if (allScalar) {
            sb.append(ind).append(k).append(":");
            for (Object x : list) sb.append("\n").append(ind).append("  - ").append(scalar(x));
            sb.append('\n');
            return;
        }
        boolean flatRecords = list.stream().allMatch(x -> x instanceof Map<?, ?> mm
                && mm.values().stream().noneMatch(y -> y instanceof Map || y instanceof List));
        if (flatRecords && sameKeys(list)) {
            sb.append(ind).append(k).append(":\n");
            table(sb, list, ind + "  ");
            return;
        }
        sb.append(ind).append(k).append(":\n");
        int i = 0;
        for (Object x : list) {
            sb.append(ind).append("  [").append(i++).append("]\n");
            if (x instanceof Map<?, ?> mm) map(sb, mm, ind + "    ");
            else sb.append(ind).append("    ").append(scalar(x)).append('\n');
        }
    }

    private static boolean sameKeys(List<?> list) {
        Object keys = ((Map<?, ?>) list.get(0)).keySet();
        return list.stream().allMatch(x -> ((Map<?, ?>) x).keySet().equals(keys));
    }

    private static void table(StringBuilder sb, List<?> rows, String ind) {
        List<String> cols = new ArrayList<>();
        for (Object c : ((Map<?, ?>) rows.get(0)).keySet()) cols.add(String.valueOf(c));
        int[] w = new int[cols.size()];
        for (int i = 0; i < cols.size(); i++) w[i] = cols.get(i).length();
        List<List<String>> cells = new ArrayList<>();
        for (Object r : rows) {
            List<String> row = new ArrayList<>();
            int i = 0;
            for (Object v : ((Map<?, ?>) r).values()) {
                String s = scalar(v);
                row.add(s);
                w[i] = Math.max(w[i], s.length());
                i++;
            }
            cells.add(row);
        }
        line(sb, ind, cols, w);
        for (List<String> row : cells) line(sb, ind, row, w);
    }

    private static void line(StringBuilder sb, String ind, List<String> vals, int[] w) {
        StringBuilder l = new StringBuilder(ind);
        for (int i = 0; i < vals.size(); i++) {
            l.append(vals.get(i));
            if (i < vals.size() - 1) l.append(" ".repeat(w[i] - vals.get(i).length() + 2));
        }
        sb.append(l.toString().stripTrailing()).append('\n');
    }

    private static String scalar(Object v) {
        if (v == null) return "-";
        if (v instanceof Boolean b) return b ? "yes" : "no";
        return String.valueOf(v);
    }
}
