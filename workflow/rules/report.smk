# The report notebook of the selection's cells, then its HTML and PDF.

rule report:
    input:
        nb="notebooks/report.ipynb",
        code=wf.code_of("notebooks/report.ipynb"),
        cells=rules.cells.input,
    output:
        nb=REPORT,
    params:
        label=f"{PROFILE} report",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "{NOTEBOOK_CMD:q} {input.nb:q} {output.nb:q} -p profile {PROFILE} "
        "{SELECTION} --label {params.label:q}"


rule report_html:
    input:
        nb=REPORT,
        renderer="scripts/render_report.sh",
        template="notebooks/templates/report/index.html.j2",
    output: HTML
    shell: "bash scripts/render_report.sh html {input.nb:q}"


rule report_pdf:
    input:
        nb=REPORT,
        renderer="scripts/render_report.sh",
        template="notebooks/templates/report-pdf/index.tex.j2",
    output: PDF
    shell: "bash scripts/setup-latex.sh && bash scripts/render_report.sh pdf {input.nb:q}"
