//! The code tables and names generated resources pick from (SNOMED CT, LOINC, RxNorm, CVX, UCUM).

/// "Patient seen for follow-up. Vitals stable. Continue current plan." in base64.
pub(super) const NOTE_BASE64: &str =
    "UGF0aWVudCBzZWVuIGZvciBmb2xsb3ctdXAuIFZpdGFscyBzdGFibGUuIENvbnRpbnVlIGN1cnJlbnQgcGxhbi4=";

pub(super) const GIVEN: &[&str] = &[
    "Maria", "James", "Aisha", "Chen", "Olivia", "Mateo", "Fatima", "Liam", "Priya", "Noah", "Sofia", "Kwame", "Emma",
    "Hiroshi", "Zara", "Lucas",
];
pub(super) const FAMILY: &[&str] = &[
    "Garcia", "Smith", "Okafor", "Nguyen", "Johnson", "Patel", "Kowalski", "Brown", "Haddad", "Silva", "Müller",
    "O'Brien", "Tanaka", "Jensen", "Rossi", "Williams",
];
pub(super) const STREETS: &[&str] = &["Oak", "Maple", "Cedar", "Elm", "Pine", "Lake", "Hill", "Main"];
pub(super) const CITIES: &[(&str, &str, &str)] = &[
    ("Boston", "MA", "02118"),
    ("Worcester", "MA", "01608"),
    ("Springfield", "MA", "01103"),
    ("Hartford", "CT", "06103"),
    ("Providence", "RI", "02903"),
    ("Portland", "ME", "04101"),
];
pub(super) const PAYERS: [(&str, &str); 3] =
    [("Blue Plains Health Plan", "BPHP"), ("Medicare", "CMS"), ("Acme Mutual Insurance", "ACME")];
pub(super) const ENCOUNTERS: &[(&str, &str, &str, &str)] = &[
    ("AMB", "ambulatory", "185349003", "Encounter for check up"),
    ("AMB", "ambulatory", "390906007", "Follow-up encounter"),
    ("AMB", "ambulatory", "185345009", "Encounter for symptom"),
    ("EMER", "emergency", "50849002", "Emergency room admission"),
    ("IMP", "inpatient encounter", "32485007", "Hospital admission"),
];
pub(super) const CONDITIONS: &[(&str, &str)] = &[
    ("44054006", "Diabetes mellitus type 2"),
    ("38341003", "Hypertensive disorder, systemic arterial"),
    ("195967001", "Asthma"),
    ("55822004", "Hyperlipidemia"),
    ("13645005", "Chronic obstructive pulmonary disease"),
    ("444814009", "Viral sinusitis"),
    ("10509002", "Acute bronchitis"),
    ("162864005", "Body mass index 30+ - obesity"),
    ("35489007", "Depressive disorder"),
    ("271737000", "Anemia"),
];
/// (LOINC, display, UCUM unit, low, high, decimals)
pub(super) type Measure = (&'static str, &'static str, &'static str, f64, f64, u32);
pub(super) const VITALS: &[Measure] = &[
    ("8867-4", "Heart rate", "/min", 52.0, 110.0, 0),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 98.0, 165.0, 0),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 58.0, 100.0, 0),
    ("29463-7", "Body weight", "kg", 48.0, 130.0, 1),
    ("8302-2", "Body height", "cm", 150.0, 198.0, 1),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 18.0, 41.0, 1),
    ("8310-5", "Body temperature", "Cel", 36.1, 38.4, 1),
];
pub(super) const LABS: &[Measure] = &[
    ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 68.0, 210.0, 0),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.6, 10.5, 1),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 140.0, 290.0, 0),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 10.5, 17.5, 1),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.9, 2),
];
pub(super) const MEDICATIONS: &[(&str, &str)] = &[
    ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
    ("314076", "lisinopril 10 MG Oral Tablet"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("617314", "atorvastatin 10 MG Oral Tablet"),
    ("895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"),
    ("308182", "Amoxicillin 250 MG Oral Capsule"),
    ("310965", "Ibuprofen 200 MG Oral Tablet"),
];
pub(super) const PROCEDURES: &[(&str, &str)] = &[
    ("73761001", "Colonoscopy"),
    ("430193006", "Medication Reconciliation (procedure)"),
    ("171207006", "Depression screening"),
    ("710824005", "Assessment of health and social care needs (procedure)"),
    ("127783003", "Spirometry (procedure)"),
    ("252160004", "Standard pregnancy test"),
];
pub(super) const VACCINES: &[(&str, &str)] = &[
    ("140", "Influenza, seasonal, injectable, preservative free"),
    ("208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose"),
    ("115", "Tdap"),
    ("113", "Td (adult) preservative free"),
    ("133", "Pneumococcal conjugate PCV 13"),
];
pub(super) const ALLERGIES: &[(&str, &str)] = &[
    ("91936005", "Allergy to penicillin"),
    ("91935009", "Allergy to peanuts"),
    ("300916003", "Latex allergy"),
    ("418689008", "Allergy to grass pollen"),
];
