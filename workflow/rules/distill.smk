# The teacher's distillation data: its regeneration of the training corpus (beam 5, 5-best: seq-KD keeps the top
# hypothesis, seq-inter the one closest to the reference) and its top-k distributions for word-KD. Each runs as one
# job, or with regen_shards / cache_shards N as N shard jobs and a merge (scatter-gather, e.g. over Slurm nodes).
REGEN_SHARDS, CACHE_SHARDS = config["regen_shards"], config["cache_shards"]
# the commands' summaries (stdout) stand for their folders, which the commands make themselves (a folder Snakemake
# made for an output would not be theirs to fill)
REGEN_OUT = f"{MODELS}/regenerate.json"
CACHE_OUT = f"{MODELS}/cache.json"
TEACHER_DONE = [f"{MODELS}/teacher/training.json", f"{CHECKS}/teacher.txt"]
# a regeneration started with other settings (another teacher, beam, data...) is started over in the workflow;
# killed, it resumes from its last chunk
REGEN_FLAGS = f"--no-progress --on-change restart {config['regen_extra']}".strip()

if REGEN_SHARDS == 1:

    rule regenerate:
        input:
            TEACHER_DONE,
        output:
            REGEN_OUT,
        params:
            flags=REGEN_FLAGS,
        threads: workflow.cores
        resources:
            gpu=config["gpus"],
        log:
            f"{LOGS}/regenerate.log",
        shell:
            "bash {ROOT}/scripts/regenerate.sh {DATA} {TEACHER} {REGEN} --threads {threads} {params.flags} "
            "2> {log} > {output}"

else:

    rule regenerate_shard:
        input:
            TEACHER_DONE,
        output:
            f"{MODELS}/regenerate-shards/{{shard}}-of-{REGEN_SHARDS}.json",
        params:
            flags=REGEN_FLAGS,
        threads: max(1, workflow.cores // REGEN_SHARDS)
        resources:
            gpu=config["gpus"],
        log:
            f"{LOGS}/regenerate-shard-{{shard}}.log",
        shell:
            "bash {ROOT}/scripts/regenerate.sh {DATA} {TEACHER} {REGEN} --num-shards {REGEN_SHARDS} "
            "--shard-id {wildcards.shard} --threads {threads} {params.flags} 2> {log} > {output}"

    rule regenerate_merge:
        input:
            expand(f"{MODELS}/regenerate-shards/{{shard}}-of-{REGEN_SHARDS}.json", shard=range(REGEN_SHARDS)),
        output:
            REGEN_OUT,
        params:
            flags=REGEN_FLAGS,
        threads: workflow.cores
        log:
            f"{LOGS}/regenerate-merge.log",
        shell:
            "kdseq-regenerate {DATA} --out-dir {REGEN} --num-shards {REGEN_SHARDS} --merge --select best,bleu "
            "{params.flags} 2> {log} > {MODELS}/regenerate.json"


CACHE_ARGS = f"--splits train,valid --topk {config['cache_topk']} --out-dir {CACHE}"

if CACHE_SHARDS == 1:

    rule cache:
        input:
            TEACHER_DONE,
        output:
            CACHE_OUT,
        params:
            args=CACHE_ARGS,
        threads: workflow.cores
        resources:
            gpu=config["gpus"],
        log:
            f"{LOGS}/cache.log",
        shell:
            "kdseq-cache-teacher {DATA} --teacher-path {TEACHER} {params.args} 2> {log} > {output}"

else:

    rule cache_shard:
        input:
            TEACHER_DONE,
        output:
            f"{MODELS}/cache-shards/{{shard}}-of-{CACHE_SHARDS}.json",
        params:
            args=CACHE_ARGS,
        threads: max(1, workflow.cores // CACHE_SHARDS)
        resources:
            gpu=config["gpus"],
        log:
            f"{LOGS}/cache-shard-{{shard}}.log",
        shell:
            "kdseq-cache-teacher {DATA} --teacher-path {TEACHER} {params.args} --num-shards {CACHE_SHARDS} "
            "--shard-id {wildcards.shard} 2> {log} > {output}"

    rule cache_merge:
        input:
            expand(f"{MODELS}/cache-shards/{{shard}}-of-{CACHE_SHARDS}.json", shard=range(CACHE_SHARDS)),
        output:
            CACHE_OUT,
        params:
            args=CACHE_ARGS,
        log:
            f"{LOGS}/cache-merge.log",
        shell:
            "kdseq-cache-teacher {DATA} {params.args} --num-shards {CACHE_SHARDS} --merge 2> {log} > {output}"


rule check_regeneration:
    """Stops the run (checks: stop) or warns (warn) when the teacher's outputs were mostly dropped."""
    input:
        REGEN_OUT,
    output:
        f"{CHECKS}/regeneration.txt",
    params:
        counts=f"{REGEN}/best/regenerate.json",
        how=f"--on-problem {config['checks']} --max-dropped {config['max_regen_dropped']}",
    log:
        f"{LOGS}/check-regeneration.log",
    shell:
        "kdseq-check regeneration --counts {params.counts} {params.how} --out {output} 2> {log} || {{ cat {log} >&2; exit 1; }}; "
        "cat {log} >&2"


# Forward translation (mono): the teacher also translates source-side text that has no translation
# (kdseq-prepare-mono encodes it with the data's own vocabulary and drops held-out, repeated and known lines); its
# seq-KD pairs are joined with the regenerated parallel corpus (kdseq-combine). Student seq-kd-mono trains on both.
MONO_DATA = f"{MODELS}/mono-data"
REGEN_MONO = f"{MODELS}/teacher/regenerated-mono"
WITH_MONO = f"{MODELS}/teacher/regenerated-with-mono"


rule prepare_mono:
    input:
        text=MONO_TEXT or [],
        data=DATA_READY,
    output:
        f"{MODELS}/mono.json",
    params:
        like=LIKE,
        max_lines=f"--max-lines {config['mono_max_lines']}" if config["mono_max_lines"] else "",
    log:
        f"{LOGS}/prepare-mono.log",
    shell:
        "kdseq-prepare-mono {input.text} --like {params.like} --out-dir {MONO_DATA} {params.max_lines} --force "
        "2> {log} > {output}"


rule regenerate_mono:
    """The teacher's beam-5 translations of the mono text, with the parallel regeneration's filters."""
    input:
        TEACHER_DONE,
        f"{MODELS}/mono.json",
    output:
        f"{MODELS}/regenerate-mono.json",
    params:
        flags=f"--beam 5 {REGEN_FLAGS}",
    threads: workflow.cores
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/regenerate-mono.log",
    shell:
        "kdseq-regenerate {MONO_DATA}/bin --teacher-path {TEACHER} --out-dir {REGEN_MONO} --threads {threads} "
        "{params.flags} 2> {log} > {output}"


rule combine_mono:
    input:
        f"{CHECKS}/regeneration.txt",
        f"{MODELS}/regenerate-mono.json",
    output:
        f"{MODELS}/combine-mono.json",
    log:
        f"{LOGS}/combine-mono.log",
    shell:
        "kdseq-combine --inputs {REGEN}/best {REGEN_MONO}/best --out-dir {WITH_MONO} --force 2> {log} > {output}"


# The quality filter (kdseq-filter): the regenerated seq-KD corpus with the worst P% of its pairs dropped, by the
# teacher's own score (recorded by the regeneration: no model runs) or by a backward model's cross-entropy of the
# source given the hypothesis (one pass, by filter-backward0, whose scores the other shares reuse). The backward
# model: the student preset trained target -> source on the gold data.
FILTERED = f"{MODELS}/teacher/filtered"
BACKWARD = f"{MODELS}/backward"


rule backward:
    input:
        DATA_READY,
    output:
        f"{BACKWARD}/training.json",
    params:
        preset=config["student_preset"],
        args=updates(config["backward_updates"], f"--source-lang {LANGS[1]} --target-lang {LANGS[0]}"),
        env=train_env(),
    threads: config["student_threads"]
    resources:
        gpu=config["gpus"],
    log:
        f"{LOGS}/train-backward.log",
    shell:
        "{params.env} bash {ROOT}/scripts/train-student.sh {params.preset} baseline {DATA} {BACKWARD} {params.args} "
        ">> {log} 2>&1"


def filter_inputs(w):
    needs = [f"{CHECKS}/regeneration.txt"]
    if w.by == "backward":
        needs.append(f"{BACKWARD}/training.json" if w.pct == "0" else f"{MODELS}/filter-backward0.json")
    return needs


rule filter:
    input:
        filter_inputs,
    output:
        f"{MODELS}/filter-{{by}}{{pct}}.json",
    wildcard_constraints:
        by="teacher|backward",
        pct="[0-9]{1,2}",
    params:
        share=lambda w: int(w.pct) / 100,
        model=lambda w: f"--backward-path {BACKWARD}/checkpoint_best.pt" if w.by == "backward" else "",
    threads: lambda w: workflow.cores if w.by == "backward" and w.pct == "0" else 1
    log:
        f"{LOGS}/filter-{{by}}{{pct}}.log",
    shell:
        "kdseq-filter {REGEN}/best --out-dir {FILTERED}/{wildcards.by}{wildcards.pct} --by {wildcards.by} "
        "--filter-worst {params.share} {params.model} --threads {threads} --force 2> {log} > {output}"
