//! The ids of a patient's resources without generating the resources: what the timeline walks to decide and
//! report changes, at a fraction of the cost of building every resource's JSON.

use super::Generated;

impl Generated {
    /// The type and id of every resource of patient `i` (the patient included), in the order
    /// `patient_resources` yields them.
    pub fn patient_resource_ids(&self, i: u64, mut out: impl FnMut(&'static str, String)) {
        let c = self.counts(i);
        out("Patient", Self::patient_id(i));
        let numbered: [(&'static str, &str, u64, usize); 7] = [
            ("Encounter", "enc", c.encounters, 3),
            ("Condition", "cond", c.conditions, 3),
            ("Observation", "obs", c.observations, 4),
            ("MedicationRequest", "medrx", c.medications, 3),
            ("Procedure", "proc", c.procedures, 3),
            ("Immunization", "imm", c.immunizations, 3),
            ("AllergyIntolerance", "allergy", c.allergies, 2),
        ];
        for (t, prefix, n, width) in numbered {
            for k in 0..n {
                out(t, format!("{prefix}-{i:07}-{k:0width$}"));
            }
        }
        out("Coverage", format!("cov-{i:07}"));
        for e in 0..c.encounters {
            out("Claim", format!("claim-{i:07}-{e:03}"));
            out("ExplanationOfBenefit", format!("eob-{i:07}-{e:03}"));
        }
        for d in 0..c.documents {
            out("DocumentReference", format!("doc-{i:07}-{d:02}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ids_are_those_of_the_generated_resources() {
        let g = Generated::new(3, 12);
        for i in 0..12 {
            let mut generated = Vec::new();
            g.patient_resources(i, |_| true, |t, v| generated.push(format!("{t}/{}", v["id"].as_str().unwrap())));
            let mut listed = Vec::new();
            g.patient_resource_ids(i, |t, id| listed.push(format!("{t}/{id}")));
            assert_eq!(listed, generated, "patient {i}");
        }
    }
}
