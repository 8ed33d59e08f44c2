"""An invoice as HTML, PDF (fpdf2) and CSV. Amounts are shown in credits with six decimals."""

from __future__ import annotations

import csv
import io

from django.template.loader import render_to_string

from billing.models import MICRO, Invoice


def credits(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    whole, micro = divmod(abs(amount), MICRO)
    return f"{sign}{whole:,}.{micro:06d}"


def _lines(invoice: Invoice) -> list[tuple[str, str, int, str]]:
    return [(line.kind, line.description, line.quantity, credits(line.amount)) for line in invoice.lines.all()]


def invoice_html(invoice: Invoice) -> str:
    return render_to_string(
        "billing/invoice.html",
        {
            "invoice": invoice,
            "lines": _lines(invoice),
            "total": credits(invoice.total),
            "usage_total": credits(invoice.usage_total),
        },
    )


def invoice_pdf(invoice: Invoice) -> bytes:
    # Imported here: fpdf2 and the font and image libraries it loads weigh about 40 MB, which every
    # gateway worker would carry for the rare invoice download.
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, f"Invoice {invoice.number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(
        0, 6, f"Organisation: {invoice.organization.name} ({invoice.organization.slug})", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.cell(
        0,
        6,
        f"Period: {invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}    Status: {invoice.status}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    widths = (25, 105, 20, 40)
    pdf.set_font("Helvetica", "B", 10)
    for width, title in zip(widths, ("Kind", "Description", "Qty", "Amount (credits)"), strict=True):
        pdf.cell(width, 7, title, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    for kind, description, quantity, amount in _lines(invoice):
        text = description.encode("latin-1", "replace").decode("latin-1")[:70]
        for width, value, align in zip(widths, (kind, text, str(quantity), amount), "LLRR", strict=True):
            pdf.cell(width, 6, value, border=1, align=align)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(sum(widths[:3]), 7, "Total", border=1)
    pdf.cell(widths[3], 7, credits(invoice.total), border=1, align="R")
    return bytes(pdf.output())


def invoice_csv(invoice: Invoice) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["invoice", "kind", "description", "provider", "model", "quantity", "amount_micro"])
    for line in invoice.lines.all():
        writer.writerow(
            [invoice.number, line.kind, line.description, line.provider, line.model, line.quantity, line.amount]
        )
    writer.writerow([invoice.number, "total", "", "", "", "", invoice.total])
    return out.getvalue()
