import fastslug
import notesutil
from django.db import models


class Note(models.Model):
    text = models.TextField()
    # Filled from the text by the C extension (packages/fastslug) on save.
    slug = models.SlugField(max_length=80, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = fastslug.slugify(self.text)[:80].rstrip("-") or "note"
        super().save(*args, **kwargs)

    @property
    def checksum(self):
        """64-bit FNV-1a of the text as 16 hex digits (C extension)."""
        return f"{fastslug.fnv1a64(self.text):016x}"

    @property
    def summary(self):
        return notesutil.summarize(self.text)

    def as_dict(self):
        return {
            "id": self.id,
            "text": self.text,
            "slug": self.slug,
            "summary": self.summary,
            "checksum": self.checksum,
            "words": notesutil.word_count(self.text),
            "created": self.created.isoformat(),
        }

    def __str__(self):
        return self.summary
