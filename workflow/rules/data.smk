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


# Source-side text for forward translation (mono): a plain text file, or LibreOffice's English UI strings and tips
def mono_text():
    mono = config["mono"]
    if mono == "libreoffice-ui":
        if LANGS[0] != "en":
            stop(f"config mono: libreoffice-ui is English text, and the corpus's source language is {LANGS[0]}: give a "
                 "text file in that language")
        return "libreoffice-en-de/mono/ui.en"
    if mono and not os.path.isfile(mono):
        stop(f"config mono: {os.path.abspath(mono)}: no such file (a plain text, one sentence a line)")
    return mono


def data_langs():
    """(source, target) language of the data: LibreOffice en-de, the corpus's src and tgt, or the prepared folder's."""
    if config["data"]:
        with open(os.path.join(config["data"], "..", "prepare.json"), encoding="utf-8") as f:
            settings = json.load(f).get("settings", {})
        return settings.get("src_lang"), settings.get("tgt_lang")
    if config["corpus"]:
        return config["src"], config["tgt"]
    return "en", "de"


LANGS = data_langs()
MONO_TEXT = mono_text()
LIKE = PREPARED or os.path.dirname(DATA)  # the kdseq-prepare folder whose vocabulary the mono text is encoded with

if config["mono"] == "libreoffice-ui":

    rule libreoffice_mono:
        """LibreOffice's English UI strings and extended tips (libreoffice-l10n-de's msgids, 3+ words, once each)."""
        output:
            MONO_TEXT,
        log:
            f"{LOGS}/libreoffice-mono.log",
        shell:
            "WORK=$PWD bash {ROOT}/data-prep/libreoffice-mono.sh > {log} 2>&1"
