"""Reading sources: listing folders, files and their encodings, HTML main text, sentences, page
furniture, dates, injected instructions, and files that change while a build runs."""
