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
