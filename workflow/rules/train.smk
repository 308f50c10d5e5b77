# The main recipe's models: the teacher, the students (one job each), and the on-policy continuation.
TEACHER = f"{MODELS}/teacher/checkpoint_best.pt"
REGEN = f"{MODELS}/teacher/regenerated"
CACHE = f"{MODELS}/teacher/cache-top{config['cache_topk']}"
CHECKS = f"{RESULTS}/checks"


def train_env():
    """A training started with other arguments in the same folder is started over, not resumed (the scripts
    refuse it outside the workflow); the same arguments resume from checkpoint_last.pt."""
    return "KDSEQ_ON_CHANGE=restart"


rule teacher:
    input:
        DATA_READY,
    output:
        f"{MODELS}/teacher/training.json",
    params:
        preset=config["teacher_preset"],
        args=updates(config["teacher_updates"], config["teacher_extra"]),
        env=train_env(),
    threads: workflow.cores
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-teacher.log",
    shell:
        "{params.env} bash {ROOT}/scripts/train-teacher.sh {params.preset} {DATA} {MODELS}/teacher {params.args} "
        ">> {log} 2>&1"


# name: (method, data, inputs besides the teacher's check, arguments before the updates)
STUDENTS = {
    "baseline": ("baseline", DATA, [DATA_READY], ""),
    "word-kd": ("word-kd", DATA, [f"{MODELS}/cache.json"], f"- --teacher-cache {CACHE}"),
    "seq-kd": ("seq-kd", f"{REGEN}/best/bin", [f"{CHECKS}/regeneration.txt"], ""),
    "seq-inter": ("seq-kd", f"{REGEN}/bleu/bin", [f"{CHECKS}/regeneration.txt"], ""),
    # Kim & Rush's combination: word-level KD (the teacher online) on the seq-inter corpus
    "seq-inter-word": ("word-kd", f"{REGEN}/bleu/bin", [f"{CHECKS}/regeneration.txt"], TEACHER),
    # seq-KD on the regenerated corpus and the teacher's translations of the mono text
    "seq-kd-mono": ("seq-kd", f"{MODELS}/teacher/regenerated-with-mono/bin", [f"{MODELS}/combine-mono.json"], ""),
}


def split_seed(name):
    """(base name, seed) of a student's name: -seedN for seeds after the first."""
    m = re.fullmatch(r"(.+?)(?:-seed([0-9]+))?", name)
    return m.group(1), int(m.group(2) or 1)


def seeded(names):
    """Each name once per seed of config seeds: the first seed's as it is, the others' with -seedN."""
    return [n if seed == 1 else f"{n}-seed{seed}" for n in names for seed in SEEDS]


def student_spec(name):
    """(method, data, inputs, arguments before the updates, seed) of a student's name: one of STUDENTS, or
    seq-kd-teacherP / seq-kd-backwardP (the seq-KD corpus filtered), each with -seedN for seeds after the first."""
    base, seed = split_seed(name)
    f = re.fullmatch(r"seq-kd-(teacher|backward)([0-9]{1,2})", base)
    if f:
        by, pct = f.group(1), int(f.group(2))
        return ("seq-kd", f"{MODELS}/teacher/filtered/{by}{pct}/bin", [f"{MODELS}/filter-{by}{pct}.json"], "", seed)
    return (*STUDENTS[base], seed)


SEEDS = [int(s) for s in config["seeds"]]  # --config seeds=[1,2] gives strings
STUDENT_NAMES = seeded(config["students"])
if "seq-kd-mono" in config["students"] and not config["mono"]:
    stop("config students: seq-kd-mono trains on the teacher's translations of mono text: set mono (a plain text "
         "file, or libreoffice-ui)")


def student_env(name):
    seed = student_spec(name)[4]
    return train_env() if seed == 1 else f"{train_env()} SEED={seed}"


rule student:
    input:
        lambda w: [f"{CHECKS}/teacher.txt", *student_spec(w.name)[2]],
    output:
        f"{MODELS}/student-{{name}}/training.json",
    wildcard_constraints:
        name="|".join(map(re.escape, STUDENT_NAMES)) or "(?!)",
    params:
        preset=config["student_preset"],
        method=lambda w: student_spec(w.name)[0],
        data=lambda w: student_spec(w.name)[1],
        args=lambda w: f"{student_spec(w.name)[3]} "
        f"{updates(config['student_updates'], config['student_extra'])}".strip(),
        env=lambda w: student_env(w.name),
    threads: config["student_threads"]
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-student-{{name}}.log",
    shell:
        "{params.env} bash {ROOT}/scripts/train-student.sh {params.preset} {params.method} {params.data} "
        "{MODELS}/student-{wildcards.name} {params.args} >> {log} 2>&1"


# The on-policy continuation (onpolicy: true): each seed's seq-KD student goes on learning from its own samples, which
# the teacher scores token by token (GKD: every row sampled, generalized JSD at beta 0.1, no gold loss), against the
# same student given as many more updates on the seq-KD corpus, and (onpolicy_time_updates: N) given N more updates,
# about the on-policy run's time. All restart their optimiser at a constant rate; the first launch starts from the
# seq-KD student's best checkpoint, an interrupted one resumes from its own checkpoint_last.pt. Each job's wall time
# is in <logs>/time/ (Snakemake's benchmark file: s is seconds).
CONTINUED = {
    "on-policy": ("word-kd", DATA, TEACHER, "--kd-on-policy 1 --kd-divergence jsd --kd-beta 0.1 --kd-alpha 1",
                  config["onpolicy_updates"]),
    "seq-kd-more": ("seq-kd", f"{REGEN}/best/bin", "", "", config["onpolicy_updates"]),
}
if config["onpolicy_time_updates"] is not None:
    CONTINUED["seq-kd-more-time"] = ("seq-kd", f"{REGEN}/best/bin", "", "", config["onpolicy_time_updates"])
CONTINUED_NAMES = seeded(CONTINUED)
if config["onpolicy"] and config["students"] and "seq-kd" not in config["students"]:
    stop("config onpolicy: the on-policy continuation continues the seq-KD student: add seq-kd to students")


def continued(name):
    """(arguments of train-student.sh, the seq-KD student it starts from, environment) of a continued student."""
    arm, seed = split_seed(name)
    method, data, teacher, args, n = CONTINUED[arm]
    start = "seq-kd" if seed == 1 else f"seq-kd-seed{seed}"
    lr, half = config["onpolicy_lr"], (n + 1) // 2
    what = (f"{method} {data} {MODELS}/student-{name} {teacher} {args} --finetune-from-model "
            f"{MODELS}/student-{start}/checkpoint_best.pt --lr {lr} --warmup-init-lr {lr} --warmup-updates 1000000 "
            f"--max-update {n} --validate-interval-updates {half} --save-interval-updates {half}")
    return " ".join(what.split()), start, student_env(start)


rule student_continued:
    input:
        lambda w: f"{MODELS}/student-{continued(w.cont)[1]}/training.json",
    output:
        f"{MODELS}/student-{{cont}}/training.json",
    wildcard_constraints:
        cont="|".join(map(re.escape, CONTINUED_NAMES)),
    params:
        preset=config["student_preset"],
        what=lambda w: continued(w.cont)[0],
        env=lambda w: continued(w.cont)[2],
    threads: config["student_threads"]
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-student-{{cont}}.log",
    benchmark:
        f"{LOGS}/time/train-student-{{cont}}.tsv"
    shell:
        "{params.env} bash {ROOT}/scripts/train-student.sh {params.preset} {params.what} >> {log} 2>&1"
