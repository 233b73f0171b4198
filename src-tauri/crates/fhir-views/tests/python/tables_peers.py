"""The `observation` and `eob_line` views written as DuckDB SQL over read_ndjson_auto, to zstd Parquet: the peer
of `haul tables` in tables_bench. Usage: tables_peers.py duckdb INPUT_DIR OUT_DIR THREADS

The SQL flattens what the ViewDefinitions flatten, column for column. DuckDB infers the schema from the data, so
an element absent from the input (valueBoolean in Synthea) has no column to read and is written as NULL.
"""
import os
import sys

import duckdb

tool, inp, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
assert tool == "duckdb"
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET preserve_insertion_order = false")

ref = "regexp_extract({0}, '([^/]+)$', 1)"
obs = os.path.join(inp, "Observation.ndjson")
con.execute(f"""
COPY (
  SELECT CAST(id AS VARCHAR) AS id,
         {ref.format('subject.reference')} AS patient_id,
         {ref.format('encounter.reference')} AS encounter_id,
         status,
         category[1].coding[1].code AS category,
         code.coding[1].system AS code_system,
         code.coding[1].code AS code_code,
         code.coding[1].display AS code_display,
         CAST(valueQuantity.value AS DECIMAL(38, 18)) AS value_number,
         valueQuantity.unit AS value_unit,
         valueQuantity.code AS value_ucum,
         valueString AS value_text,
         valueCodeableConcept.coding[1].code AS value_code,
         valueCodeableConcept.coding[1].display AS value_display,
         CAST(NULL AS BOOLEAN) AS value_boolean,
         CAST(effectiveDateTime AS TIMESTAMPTZ) AS effective,
         CAST(issued AS TIMESTAMPTZ) AS issued
  FROM read_ndjson_auto('{obs}')
) TO '{os.path.join(out, "observation.parquet")}' (FORMAT parquet, COMPRESSION zstd)
""")

bb = "https://bluebutton.cms.gov/resources/variables/"


def adjudication(codes):
    wanted = ", ".join(f"'{c}'" for c in codes)
    return (f"CAST(list_filter(it.adjudication, lambda a: len(list_intersect(list_transform(a.category.coding, "
            f"lambda c: c.code), [{wanted}])) > 0)[1].amount.value AS DECIMAL(38, 18))")


eob = os.path.join(inp, "ExplanationOfBenefit.ndjson")
con.execute(f"""
COPY (
  SELECT CAST(e.id AS VARCHAR) AS eob_id,
         {ref.format('e.claim.reference')} AS claim_id,
         {ref.format('e.patient.reference')} AS patient_id,
         e.status, e.type.coding[1].code AS claim_type, e.use,
         CAST(e.billablePeriod.start AS TIMESTAMPTZ) AS billable_start,
         CAST(e.billablePeriod."end" AS TIMESTAMPTZ) AS billable_end,
         {ref.format('e.provider.reference')} AS provider_id,
         e.insurer.display AS insurer,
         CAST(e.payment.amount.value AS DECIMAL(38, 18)) AS payment,
         it.sequence,
         it.productOrService.coding[1].system AS product_system,
         it.productOrService.coding[1].code AS product_code,
         it.productOrService.coding[1].display AS product_display,
         it.category.coding[1].code AS category_code,
         CAST(NULL AS DATE) AS serviced_date,
         CAST(it.servicedPeriod.start AS TIMESTAMPTZ) AS serviced_start,
         CAST(it.servicedPeriod."end" AS TIMESTAMPTZ) AS serviced_end,
         it.locationCodeableConcept.coding[1].code AS place_of_service,
         CAST(NULL AS DECIMAL(38, 18)) AS quantity,
         CAST(it.net.value AS DECIMAL(38, 18)) AS net,
         {adjudication(['submitted', bb + 'line_sbmtd_chrg_amt'])} AS submitted,
         {adjudication(['eligible', bb + 'line_alowd_chrg_amt'])} AS allowed,
         {adjudication(['benefit', bb + 'line_prvdr_pmt_amt'])} AS paid,
         {adjudication(['coinsurance', bb + 'line_coinsrnc_amt'])} AS coinsurance,
         {adjudication(['deductible', bb + 'line_bene_ptb_ddctbl_amt'])} AS deductible
  FROM (SELECT *, unnest(item) AS it FROM read_ndjson_auto('{eob}')) e
) TO '{os.path.join(out, "eob_line.parquet")}' (FORMAT parquet, COMPRESSION zstd)
""")
rows = {name: con.execute(f"SELECT count(*) FROM '{os.path.join(out, name + '.parquet')}'").fetchall()[0][0]
        for name in ("observation", "eob_line")}
print(f"observation: {rows['observation']} rows, eob_line: {rows['eob_line']} rows")
