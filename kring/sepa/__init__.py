"""SEPA direct debit building blocks: creditor identifiers, the SEPA character set, pain.008 files
and TARGET2 business days. Pure functions without a database; the mandates, batches and statement
import build on them."""
