"""Search space and hardware budget, from the design file's `search:` section and the command line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hw_models import Part

from ..errors import CodesignError
from ..export import DA, STRATEGIES
from ..prune import SPARSITY_RANGE

ALGORITHMS = ("greedy", "ilp", "nsga2", "random", "descent")
BUDGET_KEYS = ("lut", "ff", "dsp", "bram", "latency")
SPACE_KEYS = ("weight_bits", "activation_bits", "sparsity", "integer_cuts", "input_bits", "reuse_factors",
              "strategies")
SEARCH_KEYS = ("algorithm", "trials", "finetune_epochs", "halving", "budget", "budget_on", "space", "seed", "floor",
               "targets")
HALVING_KEYS = ("min_epochs", "eta")
BUDGET_ON = ("upper", "estimate")  # what must fit the budget: the estimate's upper bound (p90), or the estimate
BUDGET_RESOURCES = ("lut", "ff", "dsp", "bram_18k", "latency_cycles")


# A per-layer candidate parameter is "<layer>.<knob>"; each knob sets one LayerQuant field.
KNOBS = {"w": "weight_bits", "a": "activation_bits", "s": "sparsity"}
# Integer-bit cuts (search.space.integer_cuts): integer bits taken off the design's own (the range halved per
# bit, values beyond it saturate; the bits freed go to the fraction), per layer for weights and activations.
# Each rides with its width knob: the descent lowers a width by dropping an LSB, or an MSB with it.
CUTS = {"wc": "weight_integer", "ac": "activation_integer"}
CUT_OF = {"w": "wc", "a": "ac"}  # width knob -> its cut knob
KNOB_NAMES = {"w": "weights", "a": "activations", "s": "sparsity", "wc": "weight integer bits cut",
              "ac": "activation integer bits cut"}
# The input's width (search.space.input_bits): the FPGA receives the data's type with its least significant bits
# dropped (truncated: the wires left off, no logic), a global knob of the whole design.
INPUT_BITS = "input_bits"
INPUT = "input"  # the input's name where a knob's layer is shown (sensitivity tables)


def param(layer: str, knob: str) -> str:
    return f"{layer}.{knob}"


def split_param(key: str) -> tuple[str, str] | None:
    """(layer, knob) of a per-layer parameter, None for a global one (reuse_factor, strategy, input_bits)."""
    name, dot, knob = key.rpartition(".")
    return (name, knob) if dot and (knob in KNOBS or knob in CUTS) else None


def knob_label(key: str) -> tuple[str, str]:
    """(layer, what the knob sets) of a width knob (SearchSpace.widths) for tables: ('fc1', 'weights'),
    ('input', 'input bits')."""
    if key == INPUT_BITS:
        return INPUT, "input bits"
    layer, knob = split_param(key)
    return layer, KNOB_NAMES[knob]


def totals(cost) -> dict:
    """An Estimate's totals (a plain dict of totals as it is)."""
    return dict(getattr(cost, "total", cost))


@dataclass(frozen=True)
class Budget:
    """Absolute limits (None = unconstrained); latency in clock cycles.

    upper: a candidate meets a limit only when the top of its estimate's interval does (per layer, the p90
    of report / estimate on held-out data of that layer's template: hls4ml's Latency/Resource fit against
    Vivado, the distributed_arithmetic one against Yosys), else the estimate itself is checked.
    """

    lut: float | None = None
    ff: float | None = None
    dsp: float | None = None
    bram_18k: float | None = None
    latency_cycles: float | None = None
    upper: bool = False

    def limits(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in BUDGET_RESOURCES if getattr(self, k) is not None}

    def checked(self, cost) -> dict[str, float]:
        """The values held against the limits: an Estimate's total, or with `upper` its interval's top
        (a plain dict of totals is checked as it is)."""
        total = totals(cost)
        interval = getattr(cost, "interval", {}) if self.upper else {}
        return total | {k: float(interval[k][1]) for k in total if k in interval}

    def estimate_limits(self, reference) -> dict[str, float]:
        """The limits on the estimate itself (what a linear planner can constrain): limit x estimate / checked
        value of a reference candidate's Estimate."""
        checked, total = self.checked(reference), totals(reference)
        return {k: v * total[k] / checked[k] if checked[k] else v for k, v in self.limits().items()}

    def violations(self, cost) -> dict[str, tuple[float, float]]:
        """{resource: (the checked value, the limit)} for every limit the candidate's cost exceeds."""
        checked = self.checked(cost)
        return {k: (checked[k], v) for k, v in self.limits().items() if checked[k] > v + 1e-9}

    def describe(self) -> str:
        text = ", ".join(f"{k} <= {v:,.0f}" for k, v in self.limits().items()) or "none"
        if self.upper and self.limits():
            text += (" (checked on the estimate's upper bound: per layer the p90 of report / estimate on "
                     "held-out data of its template)")
        return text


def parse_budget(spec: dict | str | None, part: Part, clock_ns: float, where: str) -> Budget:
    """{lut: 0.3, dsp: 100, latency: 50 | '250ns'}: values <= 1 are fractions of the part, larger ones counts."""
    if spec is None or spec == "":
        return Budget()
    if isinstance(spec, str):
        items = {}
        for item in spec.split(","):
            if "=" not in item:
                raise CodesignError(f"{where}: {item!r}: expected key=value, e.g. lut=0.3,dsp=0.1,latency=50")
            k, v = item.split("=", 1)
            items[k.strip()] = v.strip()
        spec = items
    if not isinstance(spec, dict):
        raise CodesignError(f"{where}: must be a mapping like {{lut: 0.3, latency: 50}}")
    out = {}
    capacity = {"lut": part.lut, "ff": part.ff, "dsp": part.dsp, "bram": part.bram_18k}
    for key, raw in spec.items():
        if key not in BUDGET_KEYS:
            raise CodesignError(f"{where}.{key}: unknown budget key; allowed: {', '.join(BUDGET_KEYS)}")
        text = str(raw).strip().lower()
        m = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*(ns|us)?", text)
        if not m or (m.group(2) and key != "latency"):
            raise CodesignError(f"{where}.{key}: {raw!r}; allowed: a fraction <= 1 of the part, a count > 1"
                                f"{', or a time like 250ns' if key == 'latency' else ''}")
        value = float(m.group(1))
        if key == "latency":
            ns = value * (1000 if m.group(2) == "us" else 1) if m.group(2) else None
            out["latency_cycles"] = ns / clock_ns if ns is not None else value
        else:
            out["bram_18k" if key == "bram" else key] = value * capacity[key] if value <= 1 else value
    return Budget(**out)


@dataclass(frozen=True)
class SearchSpace:
    layers: tuple[str, ...]                 # quantized layers searched (weights + their activation)
    weight_bits: tuple[int, ...] = (2, 3, 4, 5, 6, 8)
    activation_bits: tuple[int, ...] = (3, 4, 5, 6, 8)
    sparsity: tuple[float, ...] = (0.0,)   # fractions of each kernel pruned (a knob when there are several)
    integer_cuts: tuple[int, ...] = (0,)   # integer bits cut off the design's (a knob when there are several)
    input_bits: tuple[int, ...] = ()       # the input's widths (a knob when there are several; () the data's)
    reuse_factors: tuple[int, ...] = (1,)
    strategies: tuple[str, ...] = ("Latency",)
    activation_layers: tuple[str, ...] = field(default=())  # layers whose activation bits matter

    def params(self) -> dict[str, tuple]:
        """Optuna parameter names and their choices."""
        p = {param(name, "w"): self.weight_bits for name in self.layers}
        p.update({param(name, "a"): self.activation_bits for name in self.activation_layers})
        if len(self.sparsity) > 1:
            p.update({param(name, "s"): self.sparsity for name in self.layers})
        if len(self.integer_cuts) > 1:
            p.update({param(name, "wc"): self.integer_cuts for name in self.layers})
            p.update({param(name, "ac"): self.integer_cuts for name in self.activation_layers})
        if len(self.input_bits) > 1:
            p[INPUT_BITS] = self.input_bits
        if len(self.reuse_factors) > 1:
            p["reuse_factor"] = self.reuse_factors
        if len(self.strategies) > 1:
            p["strategy"] = self.strategies
        return p

    def widths(self) -> list[str]:
        """The knobs whose lowering saves cost: per layer weight and activation bits and sparsity, and the
        input's bits, in params() order. An integer cut saves nothing alone; it rides with its width (the
        descent's options), so the greedy path and the sensitivity pass lower widths only and leave the cuts at 0."""
        return [k for k in self.params() if (split_param(k) and split_param(k)[1] in KNOBS) or k == INPUT_BITS]

    def ordered(self, key: str) -> list:
        """A parameter's choices, widest first: bits (and reuse factors) largest first, sparsity and integer cuts
        smallest first, strategies as given. top() takes the first of each, bottom() the last."""
        choices = self.params()[key]
        if key == "strategy":
            return list(choices)
        knob = split_param(key)
        return sorted(choices, reverse=not (knob and (knob[1] == "s" or knob[1] in CUTS)))

    def top(self) -> dict:
        """The widest candidate (every choice at its most costly)."""
        return {k: self.ordered(k)[0] for k in self.params()}

    def bottom(self) -> dict:
        """The narrowest candidate (every choice at its cheapest)."""
        return {k: self.ordered(k)[-1] for k in self.params()}


@dataclass(frozen=True)
class SearchSettings:
    algorithm: str = "nsga2"
    trials: int = 40
    finetune_epochs: int = 3
    seed: int = 0
    budget: dict | str | None = None
    budget_on: str = "upper"
    space: dict = field(default_factory=dict)
    halving: dict | None = None   # successive halving: {min_epochs, eta} (Li et al. 2020, ASHA)
    floor: float | None = None    # descent: the validation metric every step keeps (accuracy >= it; MSE <= it)
    targets: list | None = None   # descent: metrics above the floor no step crosses untrained

    def rungs(self) -> list[int]:
        """Cumulative fine-tuning epochs at which a trial is scored: min_epochs x eta^k below finetune_epochs,
        then finetune_epochs; one rung (finetune_epochs) without halving."""
        if not self.halving:
            return [self.finetune_epochs]
        out, e = [], int(self.halving.get("min_epochs", 1))
        while e < self.finetune_epochs:
            out.append(e)
            e *= int(self.halving.get("eta", 3))
        return out + [self.finetune_epochs]

    @property
    def eta(self) -> int:
        return int((self.halving or {}).get("eta", 3))


def _int_tuple(value, where: str, low: int, high: int) -> tuple[int, ...]:
    if not (isinstance(value, list) and value and all(isinstance(v, int) and low <= v <= high for v in value)):
        raise CodesignError(f"{where}: {value!r}; allowed: a non-empty list of integers in {low}..{high}")
    return tuple(sorted(set(value)))


def search_settings(path, raw: dict, overrides: dict) -> SearchSettings:
    where = f"{path}: search"
    if "strategy" in raw:  # renamed: `strategy` is the hls4ml strategy everywhere else (target.strategy)
        raise CodesignError(f"{where}.strategy: renamed {where}.algorithm ({', '.join(ALGORITHMS)}); the hls4ml "
                            "strategy is target.strategy")
    unknown = set(raw) - set(SEARCH_KEYS)
    if unknown:
        raise CodesignError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {', '.join(SEARCH_KEYS)}")
    merged = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
    s = SearchSettings(**{k: merged[k] for k in SEARCH_KEYS if k in merged})
    if s.algorithm not in ALGORITHMS:
        field_name = "--algorithm" if overrides.get("algorithm") is not None else f"{where}.algorithm"
        raise CodesignError(f"{field_name}: {s.algorithm!r}; allowed: {', '.join(ALGORITHMS)}")
    if s.budget_on not in BUDGET_ON:
        field_name = "--budget-on" if overrides.get("budget_on") is not None else f"{where}.budget_on"
        raise CodesignError(f"{field_name}: {s.budget_on!r}; allowed: {', '.join(BUDGET_ON)}")
    for key, low in (("trials", 1), ("finetune_epochs", 0)):
        v = getattr(s, key)
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise CodesignError(f"{where}.{key}: {v!r}; allowed: an integer >= {low}")
    if s.algorithm == "descent" and s.finetune_epochs < 1:
        raise CodesignError(f"{where}.finetune_epochs: 0; allowed with algorithm descent: an integer >= 1 (its "
                            "fine-tuned steps share trials x finetune_epochs epochs)")
    if s.halving is not None and s.algorithm == "descent":
        raise CodesignError(f"{where}.halving: not with algorithm descent (each of its steps trains on from the last "
                            "one); allowed with greedy, ilp, nsga2, random")
    if s.floor is not None and (s.algorithm != "descent" or not isinstance(s.floor, (int, float))
                                or isinstance(s.floor, bool) or s.floor < 0):
        raise CodesignError(f"{where}.floor: {s.floor!r}" + ("; allowed with algorithm descent only (its chain "
                            "turns back at the floor)" if s.algorithm != "descent" else "; allowed: a number >= 0, "
                            "the validation accuracy (MSE for regression and autoencoders) every step keeps"))
    if s.targets is not None and (s.floor is None or not isinstance(s.targets, list) or not s.targets or not all(
            isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0 for t in s.targets)):
        raise CodesignError(f"{where}.targets: {s.targets!r}; allowed: " + (
            "with a floor only (search.floor: the lowest metric you need)" if s.floor is None else
            "a list of numbers >= 0, the validation accuracies (MSEs) above the floor you want designs at too"))
    if s.halving is not None:
        h = s.halving
        if not isinstance(h, dict) or set(h) - set(HALVING_KEYS):
            raise CodesignError(f"{where}.halving: {h!r}; allowed: a mapping with {', '.join(HALVING_KEYS)}, "
                                "e.g. {min_epochs: 1, eta: 3}")
        for key, low in (("min_epochs", 1), ("eta", 2)):
            v = h.get(key, low if key == "min_epochs" else 3)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise CodesignError(f"{where}.halving.{key}: {v!r}; allowed: an integer >= {low}")
        if h.get("min_epochs", 1) >= s.finetune_epochs:
            raise CodesignError(f"{where}.halving.min_epochs: {h.get('min_epochs', 1)}; allowed: fewer than "
                                f"finetune_epochs ({s.finetune_epochs}), the epochs of a fully trained candidate")
    if not isinstance(s.space, dict) or set(s.space) - set(SPACE_KEYS):
        raise CodesignError(f"{where}.space: unknown field(s) {sorted(set(s.space) - set(SPACE_KEYS))}; "
                            f"allowed: {', '.join(SPACE_KEYS)}")
    return s


def build_space(settings: SearchSettings, path, mac_layers: list[str], act_layers: list[str],
                input_spec=None) -> SearchSpace:
    """The space of the design file's search.space; `input_spec`: the type the data reaches the FPGA in, which
    input_bits narrows."""
    where = f"{path}: search.space"
    sp = settings.space
    kw = {}
    if "input_bits" in sp:
        width = input_spec.width if input_spec is not None else 16
        try:
            kw["input_bits"] = _int_tuple(sp["input_bits"], f"{where}.input_bits", 1, width)
        except CodesignError as exc:
            raise CodesignError(f"{exc} (the data reaches the FPGA as {input_spec.to_hls()}; input_bits keeps its "
                                "most significant bits)" if input_spec is not None else str(exc)) from None
        if settings.algorithm == "ilp" and len(kw["input_bits"]) > 1:
            raise CodesignError(f"{where}.input_bits: with algorithm descent, greedy, nsga2 or random (ilp's plans "
                                "choose per layer; the input's width is one choice for the whole design)")
    if "weight_bits" in sp:
        kw["weight_bits"] = _int_tuple(sp["weight_bits"], f"{where}.weight_bits", 2, 16)
    if "activation_bits" in sp:
        kw["activation_bits"] = _int_tuple(sp["activation_bits"], f"{where}.activation_bits", 2, 16)
    if "sparsity" in sp:
        low, high = SPARSITY_RANGE
        v = sp["sparsity"]
        if not (isinstance(v, list) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                  and low <= x <= high for x in v)):
            raise CodesignError(f"{where}.sparsity: {v!r}; allowed: a non-empty list of fractions in {low}..{high} "
                                "(e.g. [0, 0.5, 0.75, 0.9])")
        kw["sparsity"] = tuple(sorted({float(x) for x in v}))
    if "integer_cuts" in sp:
        cuts = _int_tuple(sp["integer_cuts"], f"{where}.integer_cuts", 0, 8)
        if 0 not in cuts:
            raise CodesignError(f"{where}.integer_cuts: {sp['integer_cuts']!r}; allowed: a list of integers in 0..8 "
                                "with 0 (the design's own integer bits), e.g. [0, 1]")
        if len(cuts) > 1 and settings.algorithm in ("greedy", "ilp"):
            raise CodesignError(f"{where}.integer_cuts: with algorithm descent, nsga2 or random (a cut saves no "
                                f"cost alone, so {settings.algorithm}'s cost-per-sensitivity plan cannot weigh it)")
        kw["integer_cuts"] = cuts
    if "reuse_factors" in sp:
        kw["reuse_factors"] = _int_tuple(sp["reuse_factors"], f"{where}.reuse_factors", 1, 4096)
    if "strategies" in sp:
        st = sp["strategies"]
        if not (isinstance(st, list) and st and all(v in STRATEGIES for v in st)):
            raise CodesignError(f"{where}.strategies: {st!r}; allowed: a list of {', '.join(STRATEGIES)} "
                                f"({DA} always at ReuseFactor 1)")
        kw["strategies"] = tuple(st)
    return SearchSpace(layers=tuple(mac_layers), activation_layers=tuple(act_layers), **kw)


DESCRIBE_LEGEND = ("`fc1:5/3@50%`: layer fc1 with 5-bit weights, 3-bit activations (`-`: none searched), 50% of its "
                   "weights pruned; `3(-1)`: one integer bit cut off the design's")


def describe(params: dict) -> str:
    """A candidate in one short string: layer:weight/activation bits (@ sparsity), then the rest (strategy,
    reuse); DESCRIBE_LEGEND says how to read it."""
    layers: dict[str, dict] = {}
    rest = []
    for key, value in sorted(params.items()):
        if split_param(key):
            name, knob = split_param(key)
            layers.setdefault(name, {})[knob] = value
        else:
            rest.append(f"{key}={value}")
    cut = lambda b, knob: f"(-{b[CUT_OF[knob]]})" if b.get(CUT_OF[knob]) else ""  # noqa: E731
    parts = [f"{n}:{b.get('w', '-')}{cut(b, 'w')}/{b.get('a', '-')}{cut(b, 'a')}"
             + (f"@{b['s']:.0%}" if b.get("s") else "") for n, b in layers.items()]
    return " ".join(parts + rest)
