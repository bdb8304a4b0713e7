"""A dataset's documentation in the standard formats other tools read (DESIGN §6): Croissant 1.1 with its
Responsible AI vocabulary, a Hugging Face dataset card and DCAT 3. ``document`` gathers what the caller may
see; each format module only lays that out."""
