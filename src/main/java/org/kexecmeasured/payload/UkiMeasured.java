package org.kexecmeasured.payload;

import org.kexecmeasured.payload.pe.PeFile;
import org.kexecmeasured.payload.uki.Pcr11;
import org.kexecmeasured.payload.uki.StubMeasurements;
import org.kexecmeasured.payload.uki.StubVersion;
import org.kexecmeasured.payload.uki.Uki;
import org.kexecmeasured.util.BadInputException;
import org.kexecmeasured.util.HashAlg;
import org.kexecmeasured.util.Hex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The measurement part of a UKI's report: PCR 11 (per profile) and the stub's other measurements, from a
 * run of the UKI's own stub when a {@link StubMeasurements.Runner} is given, with the static model
 * ({@link Pcr11}) beside it as a cross-check that names the version it models. Without a runner, or when
 * the run fails, the model's value is shown and the report says where it came from and why.
 */
final class UkiMeasured {

    private UkiMeasured() {
    }

    static Map<String, Object> report(PeFile pe, byte[] file, Inspector.Options opts, Set<HashAlg> banks) {
        Uki uki = Uki.of(pe);
        Optional<StubVersion> version = StubVersion.of(pe);
        Optional<Pcr11.Rules> rules = version.flatMap(Pcr11::rulesFor);
        List<Uki.Profile> profiles = rules.map(r -> r.profiles).orElse(version.map(v -> v.major() >= 257).orElse(false))
                ? uki.profiles() : List.of();
        Integer selected = profiles.isEmpty() ? null : opts.profile() == null ? 0 : opts.profile();
        if (opts.profile() != null && profiles.isEmpty()) {
            throw new BadInputException("--profile " + opts.profile() + ": the UKI has no profiles"
                    + (uki.profiles().isEmpty() ? "" : " its stub knows (" + version.map(StubVersion::toString).orElse("unknown stub") + ")"));
        }
        if (selected != null && (selected < 0 || selected >= profiles.size())) {
            throw new BadInputException("--profile " + selected + ": the UKI has profiles 0 to " + (profiles.size() - 1));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        StubMeasurements run = null;
        String runError = null;
        if (opts.stubRunner() != null) {
            try {
                run = opts.stubRunner().run(file, selected, banks);
            } catch (BadInputException e) {
                runError = e.getMessage();
            }
        }
        out.put("pcr11", pcr11(pe, version, rules, selected, run, runError, banks));
        if (!profiles.isEmpty()) {
            List<Object> ps = new ArrayList<>();
            for (Uki.Profile p : profiles) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("index", p.index());
                if (p.id() != null) e.put("id", p.id());
                if (p.title() != null) e.put("title", p.title());
                List<String> names = new ArrayList<>();
                for (var s : p.sections()) names.add(s.name());
                e.put("sections", String.join(" ", names));
                var cmd = uki.sectionFor(".cmdline", p.index());
                if (cmd != null) e.put("cmdline", uki.textOf(cmd));
                if (p.index() == selected) {
                    e.put("pcr11", "see pcr11 (selected profile)");
                } else {
                    StubMeasurements other = null;
                    String err = null;
                    if (opts.stubRunner() != null) {
                        try {
                            other = opts.stubRunner().run(file, p.index(), banks);
                        } catch (BadInputException x) {
                            err = x.getMessage();
                        }
                    }
                    e.put("pcr11", pcr11(pe, version, rules, p.index(), other, err, banks));
                }
                ps.add(e);
            }
            out.put("profiles", ps);
        }
        if (run != null) {
            List<Object> ms = new ArrayList<>();
            for (StubMeasurements.Event ev : run.events()) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("pcr", ev.pcr());
                e.put("type", "0x" + Integer.toHexString(ev.eventType()));
                e.put("sha256", ev.digests().containsKey(HashAlg.SHA256) ? Hex.of(ev.digests().get(HashAlg.SHA256)) : "-");
                e.put("event", ev.description());
                ms.add(e);
            }
            out.put("measurements", ms);
            for (var pv : run.pcrs().entrySet()) {
                if (pv.getKey() == Pcr11.PCR) continue;
                Map<String, Object> v = new LinkedHashMap<>();
                v.put("source", "emulated " + version.map(StubVersion::toString).orElse("stub") + ", from zero");
                for (HashAlg a : banks) v.put(a.tpmName, Hex.of(pv.getValue().get(a)));
                out.put("pcr" + pv.getKey(), v);
            }
        }
        return out;
    }

    private static Map<String, Object> pcr11(PeFile pe, Optional<StubVersion> version, Optional<Pcr11.Rules> rules,
                                             Integer profile, StubMeasurements run, String runError, Set<HashAlg> banks) {
        Map<String, Object> m = new LinkedHashMap<>();
        Pcr11.Prediction model = null;
        String modelProblem = null;
        if (rules.isPresent()) {
            try {
                model = Pcr11.predict(pe, rules.get(), profile, banks, List.of());
            } catch (BadInputException e) {
                modelProblem = e.getMessage();
            }
        } else {
            modelProblem = version.map(v -> v + " is not modelled (the static model knows " + Pcr11.knownVersions() + " only)")
                    .orElse("the stub names no version (.sdmagic, .sbat)");
        }
        String stub = version.map(StubVersion::toString).orElse("the UKI's stub");
        Map<HashAlg, byte[]> value;
        if (run != null) {
            m.put("source", "emulated " + stub + (run.kernel() ? " (ran to the kernel hand-off)" : ""));
            value = run.pcrs().get(Pcr11.PCR);
        } else if (model != null) {
            m.put("source", "static model of " + rules.get().major + " rules"
                    + (runError != null ? " (the emulation failed: " + runError + ")" : " (no emulation)"));
            value = model.pcr();
        } else {
            m.put("source", "none");
            m.put("error", (runError != null ? "the emulation failed: " + runError + "; " : "") + modelProblem);
            return m;
        }
        if (profile != null) m.put("profile", profile);
        for (HashAlg a : banks) m.put(a.tpmName, Hex.of(value.get(a)));
        if (run != null) {
            Map<String, Object> x = new LinkedHashMap<>();
            if (model != null) {
                x.put("rules", rules.get().toString());
                boolean same = true;
                for (HashAlg a : banks) same &= Arrays.equals(model.pcr().get(a), value.get(a));
                x.put("agrees", same);
                if (!same) x.put(HashAlg.SHA256.tpmName, Hex.of(model.pcr().get(HashAlg.SHA256)));
            } else {
                x.put("agrees", "unknown: " + modelProblem);
            }
            m.put("model", x);
        }
        return m;
    }
}
