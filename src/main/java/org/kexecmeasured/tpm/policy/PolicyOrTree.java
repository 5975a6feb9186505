package org.kexecmeasured.tpm.policy;

import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;

import java.util.ArrayList;
import java.util.List;

/**
 * A tree of PolicyOR commands over any number of alternative policies (leaves). PolicyOR takes at
 * most 8 branches, so leaves are grouped by 8; each group becomes one PolicyOR whose digest is a
 * leaf of the next level, until one digest remains. A group of one (the last group of a level) is
 * carried up unchanged because PolicyOR needs at least two branches. A single leaf is its own root
 * (no PolicyOR at all).
 */
public final class PolicyOrTree {
    private final HashAlg alg;
    /** levels.get(0) = leaves; each next level = digests of the groups of the previous one. */
    private final List<List<byte[]>> levels = new ArrayList<>();

    public PolicyOrTree(HashAlg alg, List<byte[]> leaves) {
        if (leaves.isEmpty()) throw new BadInputException("PolicyOR tree needs at least one branch");
        this.alg = alg;
        List<byte[]> level = new ArrayList<>();
        for (byte[] l : leaves) {
            if (l.length != alg.size) throw new BadInputException("PolicyOR leaf has " + l.length + " bytes, expected " + alg.size);
            level.add(l.clone());
        }
        levels.add(level);
        while (level.size() > 1) {
            List<byte[]> next = new ArrayList<>();
            for (int i = 0; i < level.size(); i += PolicyDigest.MAX_OR_BRANCHES) {
                List<byte[]> group = level.subList(i, Math.min(level.size(), i + PolicyDigest.MAX_OR_BRANCHES));
                next.add(group.size() == 1 ? group.get(0) : PolicyDigest.or(alg, group).digest());
            }
            levels.add(next);
            level = next;
        }
    }

    public byte[] root() {
        return levels.get(levels.size() - 1).get(0).clone();
    }

    /**
     * The PolicyOR branch lists to execute, bottom-up, after the session reached leaf {@code index}:
     * one list per PolicyOR command.
     */
    public List<List<byte[]>> path(int index) {
        if (index < 0 || index >= levels.get(0).size()) throw new BadInputException("no PolicyOR leaf " + index);
        List<List<byte[]>> out = new ArrayList<>();
        int i = index;
        for (int lv = 0; lv < levels.size() - 1; lv++) {
            List<byte[]> level = levels.get(lv);
            int start = (i / PolicyDigest.MAX_OR_BRANCHES) * PolicyDigest.MAX_OR_BRANCHES;
            List<byte[]> group = level.subList(start, Math.min(level.size(), start + PolicyDigest.MAX_OR_BRANCHES));
            if (group.size() > 1) out.add(List.copyOf(group));
            i = i / PolicyDigest.MAX_OR_BRANCHES;
        }
        return out;
    }

    public HashAlg alg() {
        return alg;
    }
}
