# The main recipe's data: LibreOffice help en-de (data-prep/libreoffice.sh), your corpus (kdseq-prepare), or a
# folder kdseq-prepare made before. Paths are relative to the work folder (--directory).


def data_layout():
    """(the binarized data folder, where models and results go, the prepared folder a rule makes or None)."""
    corpus, data, outs = config["corpus"], config["data"].rstrip("/"), config["outs"]
    if corpus and data:
        stop("config: give corpus or data, not both")
    if data:
        if not os.path.isfile(os.path.join(data, "..", "prepare.json")):
            stop(f"config data: {os.path.abspath(data)} is not a folder kdseq-prepare made (no ../prepare.json): "
                 "give its <out>/bin")
        return data, outs or f"data-{os.path.basename(os.path.dirname(os.path.abspath(data)))}", None
    if corpus:
        if not (config["src"] and config["tgt"]):
            stop(f"config corpus: {corpus} needs src and tgt (language codes, e.g. src=en tgt=fr)")
        name = os.path.basename(corpus)
        name = name[: -len(".tsv")] if name.endswith(".tsv") else name
        return f"corpus-{name}/data/bin", outs or f"corpus-{name}", f"corpus-{name}/data"
    return "libreoffice-en-de/data/bin", outs or ".", "libreoffice-en-de/data"


DATA, OUTS, PREPARED = data_layout()
MODELS = os.path.normpath(os.path.join(OUTS, "models"))
RESULTS = os.path.normpath(os.path.join(OUTS, "results"))
LOGS = os.path.normpath(os.path.join(OUTS, "logs"))
LOG_DIRS.append(LOGS)
refuse_old_models(MODELS)
DATA_READY = PREPARED or DATA  # what a rule that reads the data waits for


def corpus_files(wildcards):
    """The corpus as kdseq-prepare reads it: FILE.tsv, or a prefix with FILE.<src> and FILE.<tgt>."""
    c = config["corpus"]
    if os.path.isfile(c):
        return [c]
    files = [f"{c}.{config['src']}", f"{c}.{config['tgt']}"]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        stop(f"config corpus: {os.path.abspath(c)}: no such file, nor {os.path.abspath(missing[0])}")
    return files


if config["corpus"]:

    rule prepare_corpus:
        """Your corpus: valid and test split off at random by distinct source, a joint sentencepiece model."""
        input:
            corpus_files,
        output:
            directory(PREPARED),
        params:
            corpus=config["corpus"],
            langs=f"--src-lang {config['src']} --tgt-lang {config['tgt']}",
            sizes=f"--valid-size {config['valid_size']} --test-size {config['test_size']}",
            vocab=config["vocab_size"],
        threads: workflow.cores
        log:
            f"{LOGS}/prepare.log",
        shell:
            "kdseq-prepare --train {params.corpus} {params.langs} --out-dir {output} {params.sizes} "
            "--vocab-size {params.vocab} --workers {threads} --force > {log} 2>&1"

elif not config["data"]:

    rule libreoffice:
        """LibreOffice help en-de: downloaded (Debian packages), aligned, modules held out, prepared."""
        output:
            directory(PREPARED),
        threads: workflow.cores
        log:
            f"{LOGS}/libreoffice.log",
        shell:
            "WORK=$PWD bash {ROOT}/data-prep/libreoffice.sh de --force > {log} 2>&1"
