"""Decoding, with either backend, for every command that decodes: ``kdseq-evaluate`` (a checkpoint on a test
split), ``kdseq-regenerate`` (the teacher on a training corpus) and on-policy training (the student's samples).

    search.py     Search: the one decoding configuration (beam, n-best, length limits, loop control, sampling)
    runtime.py    Runtime: backend, device, compute type, batching, threads
    corpus.py     the split to decode, read with numpy (a CTranslate2 decode never imports torch or fairseq)
    generator.py  fairseq's SequenceGenerator: building it, decoding a loaded split in corpus order
    ct2.py        converting a fairseq checkpoint to CTranslate2 once (cached by its sha256)
    backends.py   fairseq and CTranslate2 behind one interface, length batches, choosing a backend
"""
