# Evaluation (each model greedy and with beam 5 on the test set, each student once more greedy in CTranslate2 int8),
# the checks after the teacher, and the table.
MODEL_NAMES = ["teacher", *(f"student-{s}" for s in STUDENT_NAMES)]
if config["onpolicy"] and config["students"]:
    MODEL_NAMES += [f"student-{c}" for c in CONTINUED_NAMES]
DEPLOYED = [n for n in MODEL_NAMES if n != "teacher" and config["deployed"]]
# each model's rows together: greedy, beam 5, then greedy in CTranslate2 int8
TABLE_RESULTS = [f for n in MODEL_NAMES for f in (f"{RESULTS}/{n}.test.beam1.json", f"{RESULTS}/{n}.test.beam5.json",
                                                  *([f"{RESULTS}/{n}-ct2-int8.test.beam1.json"] if n in DEPLOYED else []))]
# a student's checks: the teacher's, and the regeneration's if it trains on the regenerated corpus
ALL_CHECKS = [f"{CHECKS}/teacher.txt"] + (
    [f"{CHECKS}/regeneration.txt"] if any(s.startswith("seq-") for s in config["students"]) else []
)

localrules:
    all,
    check_teacher,
    check_regeneration,
    report,


TARGETS = [f"{RESULTS}/demo-table.md"]  # what the workflow's rule all asks for, printed at the end
WHERE = (f"data {os.path.abspath(DATA)}, models {os.path.abspath(MODELS)}, regenerated corpora "
         f"{os.path.abspath(REGEN)}, hypotheses and JSON results {os.path.abspath(RESULTS)}, BLEU against speed "
         f"{os.path.abspath(RESULTS)}/bleu-vs-speed.png, job logs {os.path.abspath(LOGS)}")


rule evaluate:
    """Greedy and beam 5 on the test set, on every core (one evaluation at a time: their speeds compare)."""
    input:
        f"{MODELS}/{{name}}/training.json",
    output:
        f"{RESULTS}/{{name}}.test.beam1.json",
        f"{RESULTS}/{{name}}.test.beam5.json",
    threads: workflow.cores
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/evaluate-{{name}}.log",
    shell:
        "bash {ROOT}/scripts/evaluate.sh {DATA} {MODELS}/{wildcards.name}/checkpoint_best.pt {wildcards.name} "
        "{RESULTS} > {log} 2>&1"


rule evaluate_deployed:
    """Greedy in CTranslate2 int8, as a student would ship (the conversion is cached)."""
    input:
        f"{MODELS}/{{name}}/training.json",
    output:
        f"{RESULTS}/{{name}}-ct2-int8.test.beam1.json",
    threads: workflow.cores
    log:
        f"{LOGS}/evaluate-{{name}}-ct2-int8.log",
    shell:
        "BEAMS=1 bash {ROOT}/scripts/evaluate.sh {DATA} {MODELS}/{wildcards.name}/checkpoint_best.pt "
        "{wildcards.name}-ct2-int8 {RESULTS} --backend ctranslate2 --compute-type int8 > {log} 2>&1"


ruleorder: evaluate_deployed > evaluate


rule check_teacher:
    """Stops the run (checks: stop) or warns (warn) when the teacher's valid loss rose for most of its run or it
    scores under min_teacher_bleu with beam 5."""
    input:
        f"{RESULTS}/teacher.test.beam5.json",
    output:
        f"{CHECKS}/teacher.txt",
    params:
        train_log=f"{LOGS}/train-teacher.log",
        how=f"--on-problem {config['checks']} --min-bleu {config['min_teacher_bleu']}",
    log:
        f"{LOGS}/check-teacher.log",
    shell:
        "kdseq-check teacher --train-log {params.train_log} --result {input} {params.how} --out {output} 2> {log} "
        "|| {{ cat {log} >&2; exit 1; }}; cat {log} >&2"


rule report:
    """The table of every result (kdseq-report), BLEU against speed, and the checks' warnings beside it."""
    input:
        results=TABLE_RESULTS,
        checks=ALL_CHECKS,
    output:
        table=f"{RESULTS}/demo-table.md",
    params:
        plot=f"{RESULTS}/bleu-vs-speed.png",
    log:
        f"{LOGS}/report.log",
    shell:
        "{{ kdseq-report {input.results} --plot {params.plot}; kdseq-check outputs {input.results} --out "
        "{output.table}.outputs 2>> {log}; if cat {input.checks} {output.table}.outputs | grep -q .; then "
        "echo; echo '## Warnings'; cat {input.checks} {output.table}.outputs | sed 's/^/- /'; fi; "
        "rm {output.table}.outputs; }} > {output.table}.tmp 2>> {log} && mv {output.table}.tmp {output.table}"
