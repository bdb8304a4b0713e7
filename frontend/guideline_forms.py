from typing import Any

from django import forms

from catalog.markdown import Heading


class CorrectionExampleForm(forms.Form):
    """Shape only; the service checks the images' bytes, the rule and the explanation."""

    rule = forms.ChoiceField(label="Rule it clarifies", help_text="A heading of the current rules.")
    before_image = forms.FileField(
        label="Before: image",
        required=False,
        help_text="PNG, JPEG, WebP or GIF. Or paste the annotation below instead.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    before_snippet = forms.CharField(
        label="Before: annotation snippet",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono", "placeholder": '{"label": "car", "box": [...]}'}),
    )
    after_image = forms.FileField(
        label="After: image",
        required=False,
        help_text="PNG, JPEG, WebP or GIF. Or paste the annotation below instead.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    after_snippet = forms.CharField(
        label="After: annotation snippet",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}),
    )
    explanation = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Markdown. Why is the corrected label right? Name the edge case.",
    )

    def __init__(self, *args: Any, headings: list[Heading], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rule = self.fields["rule"]
        assert isinstance(rule, forms.ChoiceField)
        rule.choices = [("", "Choose a rule…")] + [
            (heading.anchor, f"{'  ' * (heading.level - 1)}{heading.title}") for heading in headings
        ]


SERVICE_FIELD = {"rule": "rule", "before": "before_image", "after": "after_image", "explanation": "explanation"}
