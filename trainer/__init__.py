"""tinyespcn-nodes trainer: pretraining, fine-tuning, evaluation and export of TinyESPCN weights."""
