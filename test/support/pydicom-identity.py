"""Reads DICOM files with pydicom (independently of Aegis) and prints, per file, JSON with the values
of patient-identifying attributes (a fixed list of PS3.15 Annex E attributes that the Basic Profile
removes, empties or replaces; not bare numbers such as PatientWeight, which recur in
unrelated attributes), at every depth, the UID values, the text values of the other attributes, PatientIdentityRemoved, and the SHA-256
of the Pixel Data value. File paths come one per line on stdin."""
import hashlib
import json
import sys
import warnings

import pydicom

warnings.simplefilter("ignore")

IDENTITY = {
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "OtherPatientIDs",
    "OtherPatientNames", "PatientAddress", "PatientTelephoneNumbers", "PatientMotherBirthName",
    "MilitaryRank", "EthnicGroup", "PatientComments", "ReferringPhysicianName",
    "ReferringPhysicianAddress", "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "AccessionNumber", "StudyID", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate",
    "StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime", "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy", "OperatorsName", "PhysiciansOfRecord", "RequestingPhysician",
    "StationName", "DeviceSerialNumber", "StudyDescription", "SeriesDescription", "ProtocolName",
    "RequestAttributesSequence", "ScheduledProcedureStepID", "RequestedProcedureID",
    "AdmittingDiagnosesDescription", "PatientAge", "Occupation",
    "AdditionalPatientHistory", "ImageComments", "DerivationDescription", "ReviewerName",
    "IssuerOfPatientID", "FillerOrderNumberImagingServiceRequest", "PlacerOrderNumberImagingServiceRequest",
}


TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UT"}


def values(ds, out, uids, kept):
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or []:
                values(item, out, uids, kept)
            continue
        if elem.VR == "UI" and elem.value:
            uids.extend(str(v) for v in (elem.value if elem.VM > 1 else [elem.value]))
        if elem.keyword not in IDENTITY and elem.VR in TEXT_VRS and elem.value not in (None, ""):
            kept.extend(str(v).strip(" \0") for v in (elem.value if elem.VM > 1 else [elem.value]))
        if elem.keyword in IDENTITY and elem.value not in (None, ""):
            items = elem.value if elem.VM > 1 else [elem.value]
            for v in items:
                text = str(v).strip(" \0")
                if len(text) >= 4:
                    out.append({"keyword": elem.keyword, "value": text})


result = {}
for path in sys.stdin.read().split("\n"):
    if not path:
        continue
    try:
        ds = pydicom.dcmread(path)
        found, uids, kept = [], [], []
        values(ds, found, uids, kept)
        pixel = ds.get((0x7FE0, 0x0010))
        result[path] = {
            "identity": found,
            "uids": uids,
            "kept": kept,
            "identityRemoved": str(ds.get("PatientIdentityRemoved", "")),
            "pixelSha256": hashlib.sha256(pixel.value).hexdigest() if pixel is not None and pixel.value is not None else None,
        }
    except Exception as error:  # reported, not raised: the test says which file
        result[path] = {"error": f"{type(error).__name__}: {error}"}
print(json.dumps(result))
