"""The KOSMOS-1 paper's reported numbers as data (kosmos1.csv), installed as the package `kosmos_eval.paper`
so an installed harness can put them beside a user's runs; see README.md in this folder for the columns."""
